/**
 * TokenHeatmap: the text as tokens, each coloured by one feature's activation.
 *
 * Each token is one focusable `span[data-token-index]` (role option in a listbox, roving
 * tabindex). Recolouring writes one attribute (`data-h`, the heat level) per token whose
 * level changed; the colours live in CSS, so a theme switch needs no work here.
 *
 * Long texts: the spans sit in chunks of about 256 tokens (`div.sw-chunk`, role none, cut after
 * a line break where there is one), each with `content-visibility: auto`. Every span is in the
 * DOM and every `data-h` is written at once, but the browser does the style, layout and paint
 * of a chunk only while it is near the view; the work of a recolour grows with what is on
 * screen, not with the text (8,000 tokens recolour in a few ms). A chunk ends a line: where a
 * stretch of text has no line break for 512 tokens, the cut falls after a sentence end.
 *
 * Traits: `<featureTrait>` (int | null) the feature shown, `<tokenTrait>` (int | null) the
 * selected token; both are set here on click / Enter / Space and listened to.
 */
import { argMax, heatLevel, scaleMax } from "./colors";
import { activeIn, displayToken, fmt, h, listen, replaceChildren, tokenLabel, uniqueId } from "./dom";
import { commit, getOptInt, getString, onChange } from "./traits";
import { type ActData, DATA_TRAITS, rankedAt, type Store, storeFor, tierClass } from "./store";
import type { View, WidgetModel } from "./types";

export interface HeatmapOptions {
  /** trait holding the feature that colours the tokens */
  featureTrait?: string;
  /** trait holding the selected token */
  tokenTrait?: string;
  /** features listed in the tooltip */
  tooltipFeatures?: number;
  /** the top of the colour scale for a feature's values (default: their own max); Compare shares one */
  scale?: (feature: number, values: ArrayLike<number>, hasBos: boolean) => number;
}

// for the estimated heights of chunks not yet shown: styles.ts sets the line height (.sw-tokens) and
// the tokens' margins (.sw-tok); a monospace advance is about 0.6 em
const LINE_EM = 1.9;
const TOKEN_MARGIN_PX = 1;
const MONO_ADVANCE = 0.6;

const LEVEL_STRINGS = Array.from({ length: 21 }, (_, i) => String(i));

/** The heat level of every token of `values` into `out` (all 0 without values); returns the scale max. */
export function fillLevels(out: Uint8Array, values: ArrayLike<number> | null, hasBos: boolean, top?: number): number {
  const max = values ? top ?? scaleMax(values, hasBos) : 0;
  for (let i = 0; i < out.length; i++) out[i] = values && !(hasBos && i === 0) ? heatLevel(values[i], max) : 0;
  return max;
}

/**
 * Set the heat level of each token span from `values`; only changed levels are written.
 * `levels` holds the current level of each span (updated in place). Returns the scale max.
 */
export function recolor(
  spans: ArrayLike<HTMLElement>,
  levels: Uint8Array,
  values: ArrayLike<number> | null,
  hasBos: boolean,
  top?: number,
): number {
  const max = values ? top ?? scaleMax(values, hasBos) : 0;
  const n = spans.length;
  for (let i = 0; i < n; i++) {
    const l = values && !(hasBos && i === 0) ? heatLevel(values[i], max) : 0;
    if (levels[i] !== l) {
      levels[i] = l;
      spans[i].setAttribute("data-h", LEVEL_STRINGS[l]);
    }
  }
  return max;
}

/** Tokens per chunk aimed at; a chunk holds between half and twice as many (the last one fewer). */
export const CHUNK_TOKENS = 256;

const SENTENCE_END = /[.!?…;:]["'”’)\]]*\s*$/;

/**
 * Where each chunk of tokens starts (ascending, the first is 0; empty for no tokens). A chunk is a
 * block, so it ends a line: it is cut after a token holding a line break once it has `target / 2`
 * tokens; a chunk that reaches `2 * target` tokens without one is cut after its last sentence end
 * past `target / 2` tokens, else after its last token before a space, else where it is.
 */
export function chunkStarts(tokens: ArrayLike<string>, target = CHUNK_TOKENS): number[] {
  const n = tokens.length;
  const min = Math.max(1, target >> 1);
  const max = Math.max(min, target * 2);
  const starts: number[] = [];
  let s = 0;
  while (s < n) {
    starts.push(s);
    let end = -1; // last token of this chunk
    let sentence = -1;
    let space = -1;
    for (let i = s; i < n; i++) {
      const len = i - s + 1;
      const t = tokens[i];
      if (len >= min) {
        if (t.includes("\n")) {
          end = i;
          break;
        }
        if (SENTENCE_END.test(t)) sentence = i;
        if (/\s$/.test(t) || (i + 1 < n && /^\s/.test(tokens[i + 1]))) space = i;
      }
      if (len >= max) {
        end = sentence >= 0 ? sentence : space >= 0 ? space : i;
        break;
      }
    }
    s = end < 0 ? n : end + 1;
  }
  return starts;
}

export interface BuiltTokens {
  fragment: DocumentFragment;
  /** one span per token, in order */
  spans: HTMLElement[];
  /** the chunk blocks in order; chunk c holds the tokens from starts[c] up to starts[c + 1] */
  chunks: HTMLElement[];
  starts: number[];
  /** per chunk, the text between its line breaks: [characters, tokens] per line before wrapping */
  lines: Array<Array<[number, number]>>;
}

/**
 * Build the token spans (and line breaks) for `tokens`, in chunks, into a fragment; `levels` (one per
 * token) are their first heat levels, written before the spans are in the document (cheaper then).
 */
export function buildTokens(
  tokens: string[],
  hasBos: boolean,
  target = CHUNK_TOKENS,
  levels: Uint8Array | null = null,
): BuiltTokens {
  const fragment = document.createDocumentFragment();
  const spans: HTMLElement[] = new Array(tokens.length);
  const starts = chunkStarts(tokens, target);
  const chunks: HTMLElement[] = [];
  const lines: Array<Array<[number, number]>> = [];
  // cloning one prepared span is a little faster (~20 % in Chromium) than setting its fixed attributes
  const proto = document.createElement("span");
  proto.className = "sw-tok";
  proto.setAttribute("role", "option");
  proto.setAttribute("tabindex", "-1");
  proto.setAttribute("aria-selected", "false");
  proto.setAttribute("data-h", "0");
  const chunkProto = document.createElement("div");
  chunkProto.className = "sw-chunk";
  chunkProto.setAttribute("role", "none");
  for (let c = 0; c < starts.length; c++) {
    const chunk = chunkProto.cloneNode(false) as HTMLElement;
    const chunkLines: Array<[number, number]> = [[0, 0]];
    const end = c + 1 < starts.length ? starts[c + 1] : tokens.length;
    for (let i = starts[c]; i < end; i++) {
      const span = proto.cloneNode(false) as HTMLElement;
      span.setAttribute("data-token-index", String(i));
      if (i === 0) span.setAttribute("tabindex", "0");
      if (hasBos && i === 0) span.setAttribute("data-bos", "");
      if (levels && levels[i]) span.setAttribute("data-h", LEVEL_STRINGS[levels[i]]);
      const shown = displayToken(tokens[i]);
      let chars = 0;
      for (const seg of shown.segments) {
        chars += seg.text.length;
        if (seg.ws) {
          const ws = document.createElement("span");
          ws.className = "sw-ws";
          ws.textContent = seg.text;
          span.appendChild(ws);
        } else {
          span.appendChild(document.createTextNode(seg.text));
        }
      }
      const line = chunkLines[chunkLines.length - 1];
      line[0] += chars;
      line[1] += 1;
      spans[i] = span;
      chunk.appendChild(span);
      for (let b = 0; b < shown.newlines; b++) {
        chunk.appendChild(document.createElement("br"));
        chunkLines.push([0, 0]);
      }
    }
    // a chunk that ends with a line break shows no empty line after it (a block's last <br> makes none)
    if (chunkLines.length > 1 && chunkLines[chunkLines.length - 1][1] === 0) chunkLines.pop();
    chunks.push(chunk);
    lines.push(chunkLines);
    fragment.appendChild(chunk);
  }
  return { fragment, spans, chunks, starts, lines };
}

/**
 * Estimated height of a chunk in lines, for the space it holds while the browser skips it
 * (`contain-intrinsic-block-size`; once shown, the browser remembers its real height). Each token
 * also takes `tokenChars` characters' width of margins, and tokens do not break, so a wrapped line
 * loses about half a token at its end.
 */
export function estimateLines(lines: Array<[number, number]>, charsPerLine: number, tokenChars = 0): number {
  const cpl = Math.max(1, charsPerLine);
  let total = 0;
  for (const [chars, toks] of lines) {
    const width = chars + toks * tokenChars;
    const avg = toks ? width / toks : 0;
    const usable = Math.max(1, cpl - avg / 2);
    total += Math.max(1, Math.ceil(width / usable));
  }
  return total;
}

function tokenIndexOf(target: EventTarget | null): number {
  const el = target instanceof Element ? target.closest("[data-token-index]") : null;
  if (!el) return -1;
  const i = Number(el.getAttribute("data-token-index"));
  return Number.isInteger(i) ? i : -1;
}

/** The token visually above/below `from` (by layout), or from +/- 1 where there is no layout. */
export function verticalNeighbour(spans: HTMLElement[], from: number, dir: 1 | -1): number {
  const cur = spans[from].getBoundingClientRect();
  if (cur.width === 0 && cur.height === 0) return Math.max(0, Math.min(spans.length - 1, from + dir));
  const cx = cur.left + cur.width / 2;
  let lineTop: number | null = null;
  let best = from;
  let bestDist = Infinity;
  for (let i = from + dir; i >= 0 && i < spans.length; i += dir) {
    const r = spans[i].getBoundingClientRect();
    const onOtherLine = dir > 0 ? r.top >= cur.bottom - 1 : r.bottom <= cur.top + 1;
    if (!onOtherLine) continue;
    if (lineTop === null) lineTop = r.top;
    else if (Math.abs(r.top - lineTop) > 1) break; // past the neighbouring line
    const d = Math.abs(r.left + r.width / 2 - cx);
    if (d < bestDist) {
      bestDist = d;
      best = i;
    }
  }
  return best;
}

export function createHeatmap(model: WidgetModel, opts: HeatmapOptions = {}): View {
  const featureTrait = opts.featureTrait ?? "feature";
  const tokenTrait = opts.tokenTrait ?? "selected_token";
  const nTooltip = opts.tooltipFeatures ?? 6;
  const store: Store = storeFor(model);

  const legendText = h("span", { class: "sw-legend-text" });
  const legendScale = h("span", { class: "sw-dim sw-mono" });
  const legend = h(
    "div",
    { class: "sw-legend" },
    legendText,
    h("span", { class: "sw-ramp", attrs: { "aria-hidden": "true" } }),
    legendScale,
  );
  const tooltipId = uniqueId("sw-tip");
  const tooltip = h("div", { class: "sw-tooltip", attrs: { role: "tooltip", id: tooltipId, hidden: true } });
  const tokensEl = h("div", {
    class: "sw-tokens",
    attrs: { role: "listbox", "aria-label": "Tokens", "aria-orientation": "horizontal" },
  });
  const el = h("div", { class: "sw-heatmap" }, legend, tokensEl, tooltip);

  let data: ActData | null = null;
  let spans: HTMLElement[] = [];
  let chunks: HTMLElement[] = [];
  let chunkLines: Array<Array<[number, number]>> = [];
  let charsPerLine = 0; // what the estimates of the chunks' heights were made for
  let charPx = MONO_ADVANCE * 13;
  let builtFrom: unknown[] | null = null; // the data traits the tokens were built from
  let levels = new Uint8Array(0);
  let active = 0; // the token with tabindex 0
  let selected: number | null = null;
  let shownFeature: number | null = null;
  let shownValues: Float32Array | null = null;
  let shownExact = true;
  let tipFor = -1;

  function setActive(i: number, focus: boolean): void {
    if (!spans.length) return;
    i = Math.max(0, Math.min(spans.length - 1, i));
    if (spans[active]) spans[active].setAttribute("tabindex", "-1");
    active = i;
    spans[i].setAttribute("tabindex", "0");
    if (focus) {
      spans[i].focus();
      if (typeof spans[i].scrollIntoView === "function") spans[i].scrollIntoView({ block: "nearest" });
    }
  }

  function applySelection(): void {
    const next = getOptInt(model, tokenTrait);
    if (selected !== null && spans[selected]) spans[selected].setAttribute("aria-selected", "false");
    selected = next !== null && next >= 0 && next < spans.length ? next : null;
    if (selected !== null) {
      spans[selected].setAttribute("aria-selected", "true");
      if (!el.contains(activeIn(el))) setActive(selected, false);
    }
    if (tipFor >= 0) showTooltip(tipFor);
  }

  function renderLegend(max: number): void {
    if (!data) return;
    if (shownFeature === null) {
      legendText.textContent = "Select a feature to colour the tokens.";
      legendScale.textContent = "";
      return;
    }
    const label = store.labels().get(shownFeature);
    const at = shownValues ? argMax(shownValues, data.hasBos) : -1;
    const parts = [`Feature #${shownFeature}`];
    if (label) parts.push(label);
    if (max > 0 && at >= 0) parts.push(`max ${fmt(max)} at “${tokenLabel(data.tokens[at])}”`);
    else parts.push("not active in this text");
    legendText.textContent = parts.join(" · ");
    const failure = store.failure(shownFeature);
    legendScale.textContent =
      `0 – ${fmt(max)}` +
      (data.hasBos ? " (BOS excluded)" : "") +
      (shownExact ? "" : failure ? ` (top-k values only: ${failure})` : " (top-k values; exact loading…)");
  }

  /** Take the feature to show from its trait, and its column (exact or from the top-k) from the store. */
  function pickFeature(): void {
    const f = getOptInt(model, featureTrait);
    shownFeature = f;
    if (f === null) {
      shownValues = null;
      shownExact = true;
    } else {
      const col = store.column(f);
      shownValues = col.values;
      shownExact = col.exact;
    }
  }

  function showPicked(max: number, t0: number): void {
    el.setAttribute("data-recolor-ms", (performance.now() - t0).toFixed(3));
    if (shownFeature !== null) el.setAttribute("data-feature", String(shownFeature));
    else el.removeAttribute("data-feature");
    renderLegend(max);
    if (tipFor >= 0) showTooltip(tipFor);
  }

  /** The scale's top from `opts.scale` for the shown feature (undefined: the values' own max). */
  function scaleTop(): number | undefined {
    if (!opts.scale || shownFeature === null || !shownValues || !data) return undefined;
    return opts.scale(shownFeature, shownValues, data.hasBos);
  }

  function recolorNow(): void {
    if (!data) return;
    const t0 = performance.now();
    pickFeature();
    showPicked(recolor(spans, levels, shownValues, data.hasBos, scaleTop()), t0);
  }

  /** Characters of the monospace font per line of the token box, or 0 while it has no layout. */
  function measureCharsPerLine(width: number): number {
    if (!(width > 0)) return 0;
    const size = parseFloat(getComputedStyle(tokensEl).fontSize) || 13;
    charPx = MONO_ADVANCE * size;
    return Math.floor((width - 4) / charPx); // less the chunks' padding
  }

  /** Give every chunk the height it holds while skipped (`auto`: the real one, once it has been shown). */
  function sizeChunks(cpl: number): void {
    charsPerLine = cpl;
    const perLine = cpl > 0 ? cpl : 100;
    const tokenChars = TOKEN_MARGIN_PX / charPx;
    for (let c = 0; c < chunks.length; c++) {
      const lines = estimateLines(chunkLines[c], perLine, tokenChars);
      chunks[c].style.setProperty("contain-intrinsic-block-size", `auto ${(LINE_EM * lines).toFixed(1)}em`);
    }
  }

  /** The data traits' current values: a change event for one of them that leaves them all as they were
   * when the tokens were built (the other traits of the same update) needs no new build. */
  function onDataChange(): void {
    const now = DATA_TRAITS.map((t) => model.get(t));
    if (builtFrom && now.every((v, i) => v === builtFrom![i])) return;
    rebuild();
  }

  function rebuild(): void {
    hideTooltip();
    builtFrom = DATA_TRAITS.map((t) => model.get(t));
    try {
      data = store.data();
    } catch (e) {
      data = null;
      spans = [];
      chunks = [];
      chunkLines = [];
      replaceChildren(tokensEl, h("span", { class: "sw-error", text: `Cannot show the tokens: ${String(e)}` }));
      return;
    }
    const t0 = performance.now();
    pickFeature();
    levels = new Uint8Array(data.n);
    const max = fillLevels(levels, shownValues, data.hasBos, scaleTop());
    const built = buildTokens(data.tokens, data.hasBos, CHUNK_TOKENS, levels);
    spans = built.spans;
    chunks = built.chunks;
    chunkLines = built.lines;
    sizeChunks(charsPerLine);
    active = 0;
    selected = null;
    replaceChildren(tokensEl, built.fragment);
    tokensEl.setAttribute("aria-label", `Tokens (${data.n})`);
    applySelection();
    showPicked(max, t0);
  }

  function showTooltip(i: number): void {
    if (!data || !spans[i]) return;
    tipFor = i;
    const labels = store.labels();
    // the order a click on this token lists them in (its word's features first, unless "show strongest")
    const wordFirst = getString(model, "ranking", "standout") !== "strongest";
    const rows = rankedAt(data, i, wordFirst, nTooltip).map((f) =>
      h(
        "tr",
        undefined,
        // marked as in the token's list: its word's features, then those that stand out in the text
        h("td", { class: "sw-fid" + (wordFirst ? tierClass(f) : ""), text: `#${f.id}` }),
        h("td", { text: labels.get(f.id) ?? "" }),
        h("td", { class: "sw-num", text: fmt(f.value) }),
      ),
    );
    const head = `Token ${i}: “${tokenLabel(data.tokens[i])}”${data.hasBos && i === 0 ? " (BOS)" : ""}`;
    const current =
      shownFeature !== null && shownValues
        ? h("div", { text: `feature #${shownFeature}: ${fmt(shownValues[i])}${shownExact ? "" : " (top-k)"}` })
        : null;
    replaceChildren(
      tooltip,
      h("div", { class: "sw-mono", text: head }),
      current,
      rows.length
        ? h("table", { attrs: { "aria-label": "Top features" } }, h("tbody", undefined, ...rows))
        : h("div", { class: "sw-dim", text: "no active features" }),
    );
    tooltip.hidden = false;
    spans[i].setAttribute("aria-describedby", tooltipId);
    // place below the token, inside the heatmap box (robust to transformed ancestors)
    const box = el.getBoundingClientRect();
    const r = spans[i].getBoundingClientRect();
    const left = Math.max(0, Math.min(r.left - box.left, box.width - tooltip.offsetWidth));
    tooltip.style.left = `${left}px`;
    tooltip.style.top = `${r.bottom - box.top + 4}px`;
  }

  function hideTooltip(): void {
    if (tipFor >= 0 && spans[tipFor]) spans[tipFor].removeAttribute("aria-describedby");
    tipFor = -1;
    tooltip.hidden = true;
  }

  function select(i: number): void {
    const current = getOptInt(model, tokenTrait);
    commit(model, { [tokenTrait]: current === i ? null : i });
  }

  function onKey(ev: KeyboardEvent): void {
    const i = tokenIndexOf(ev.target);
    if (i < 0) return;
    let next = -1;
    switch (ev.key) {
      case "ArrowRight":
        next = i + 1;
        break;
      case "ArrowLeft":
        next = i - 1;
        break;
      case "ArrowDown":
        next = verticalNeighbour(spans, i, 1);
        break;
      case "ArrowUp":
        next = verticalNeighbour(spans, i, -1);
        break;
      case "Home":
        next = 0;
        break;
      case "End":
        next = spans.length - 1;
        break;
      case "Enter":
      case " ":
      case "Spacebar":
        ev.preventDefault();
        select(i);
        return;
      case "Escape":
        if (getOptInt(model, tokenTrait) !== null) {
          ev.preventDefault();
          commit(model, { [tokenTrait]: null });
        }
        hideTooltip();
        return;
      default:
        return;
    }
    ev.preventDefault();
    setActive(next, true);
  }

  const cleanups: Array<() => void> = [
    listen(tokensEl, "click", (ev) => {
      const i = tokenIndexOf(ev.target);
      if (i < 0) return;
      setActive(i, false);
      select(i);
    }),
    listen(tokensEl, "keydown", onKey),
    listen(tokensEl, "mouseover", (ev) => {
      const i = tokenIndexOf(ev.target);
      if (i >= 0 && i !== tipFor) showTooltip(i);
    }),
    listen(tokensEl, "mouseleave", () => {
      const focused = tokenIndexOf(activeIn(tokensEl));
      if (focused >= 0 && tokensEl.contains(activeIn(tokensEl))) showTooltip(focused);
      else hideTooltip();
    }),
    listen(tokensEl, "focusin", (ev) => {
      const i = tokenIndexOf(ev.target);
      if (i < 0) return;
      if (i !== active) setActive(i, false);
      showTooltip(i);
    }),
    listen(tokensEl, "focusout", (ev) => {
      if (!(ev.relatedTarget instanceof Node && tokensEl.contains(ev.relatedTarget))) hideTooltip();
    }),
    onChange(model, DATA_TRAITS, onDataChange),
    onChange(model, [featureTrait], recolorNow),
    onChange(model, [tokenTrait], applySelection),
    onChange(model, ["labels"], () => {
      renderLegend(shownValues && data ? scaleTop() ?? scaleMax(shownValues, data.hasBos) : 0);
      if (tipFor >= 0) showTooltip(tipFor);
    }),
    store.subscribe((f) => {
      if (f === getOptInt(model, featureTrait)) recolorNow();
    }),
  ];

  // the chunks' estimated heights follow the box's width (they only place the scroll bar and the
  // chunks not yet shown; a shown chunk keeps its real height)
  if (typeof ResizeObserver === "function") {
    const ro = new ResizeObserver((entries) => {
      const cpl = measureCharsPerLine(entries[entries.length - 1].contentRect.width);
      if (cpl > 0 && Math.abs(cpl - charsPerLine) > 0.1 * cpl) sizeChunks(cpl);
    });
    ro.observe(tokensEl);
    cleanups.push(() => ro.disconnect());
  }

  rebuild();

  return {
    el,
    destroy() {
      for (const c of cleanups) c();
    },
  };
}
