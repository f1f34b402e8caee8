/**
 * Generated text drawn token by token: each token a `span[data-role=gen-token][data-index]` with its
 * probability (`data-p`, 0-100, and a `title` read on hover); `[data-diverge]` marks the first token where
 * the baseline and the steered generations differ. With "show probabilities" on (`.sw-show-probs` on an
 * ancestor) each token is underlined, the less sure the model was the stronger.
 *
 * Traits read: `<side>_text`, `<side>_pieces` (each token's text; they add up to the text) and
 * `<side>_probs` (float32 LE, one per piece). Until the pieces add up to the text (mid-update, or a scope
 * that gives no tokens) the text is drawn as plain text.
 */
import { toFloat32 } from "./binary";
import { h, replaceChildren, tokenLabel } from "./dom";
import { getString, getStringList } from "./traits";
import type { WidgetModel } from "./types";

export interface GeneratedTokens {
  text: string;
  pieces: string[];
  probs: Float32Array;
  /** the pieces add up to the text and there is one probability each */
  tokenised: boolean;
}

export function readGenerated(model: WidgetModel, side: "baseline" | "steered"): GeneratedTokens {
  const text = getString(model, `${side}_text`);
  const pieces = getStringList(model, `${side}_pieces`);
  let probs: Float32Array;
  try {
    probs = toFloat32(model.get(`${side}_probs`));
  } catch {
    probs = new Float32Array(0);
  }
  const tokenised = pieces.length > 0 && probs.length === pieces.length && pieces.join("") === text;
  return { text, pieces, probs, tokenised };
}

/** The first token index where two generations differ (-1 when they are the same tokens). */
export function firstDivergence(a: string[], b: string[]): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return i;
  return a.length === b.length ? -1 : n;
}

export const pct = (p: number): string => (Number.isFinite(p) ? `${(100 * p).toFixed(1)}%` : "–");

/** Draw `g` into `target`: token spans when tokenised, else plain text. */
export function drawGenerated(target: HTMLElement, g: GeneratedTokens, divergeAt: number): void {
  if (!g.tokenised) {
    if (target.childElementCount || target.textContent !== g.text) target.textContent = g.text;
    return;
  }
  replaceChildren(
    target,
    ...g.pieces.map((piece, i) => {
      const p = g.probs[i];
      const span = h("span", {
        class: "sw-gtok",
        text: piece,
        attrs: { "data-role": "gen-token", "data-index": i, "data-p": Number.isFinite(p) ? Math.round(100 * p) : null, title: `“${tokenLabel(piece)}”: p = ${pct(p)}` },
      });
      span.style.setProperty("--sw-u", Number.isFinite(p) ? (1 - p).toFixed(3) : "0");
      if (i === divergeAt) span.setAttribute("data-diverge", "");
      return span;
    }),
  );
}

/** One sentence on where the two generations part. */
export function divergenceText(base: GeneratedTokens, steered: GeneratedTokens, at: number): string {
  if (!base.tokenised || !steered.tokenised) return "";
  if (at < 0) return "The steered generation is the baseline, token for token.";
  const a = base.pieces[at];
  const b = steered.pieces[at];
  const shown = (t: string | undefined, p: number) => (t === undefined ? "(ended)" : `“${tokenLabel(t)}” (${pct(p)})`);
  return `They part at token ${at + 1}: ${shown(a, base.probs[at])} vs ${shown(b, steered.probs[at])}.`;
}
