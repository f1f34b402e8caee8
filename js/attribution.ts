/**
 * Attribution: why the model predicts a token after a position, feature by feature, and what
 * ablating features does to the prediction.
 *
 * - token strip: `span[data-role=attr-token][data-attr-index]` (not `data-token-index`: that names the
 *   heatmap's tokens, once per text), coloured on a diverging scale
 *   (`data-a` from -10 to 10: helps / hurts the target) by the tokens' total attribution, or by the
 *   scores of the feature last clicked in this list (`[data-role=attr-total]` goes back to totals); `aria-current` marks the explained position, `data-after` the
 *   tokens after it (they cannot matter). A click (Enter / Space) explains the prediction after it.
 * - predictions: `[data-role=prediction][data-token]` rows with a `target` and a `vs` button
 *   (`aria-pressed` on the chosen ones);
 * - features: `[data-role=attr-feature][data-attr-feature][data-sign]` rows (click: select the
 *   feature) with a `[data-role=ablate-select]` checkbox; `[data-role=ablate]` reruns the prediction
 *   with the ticked features removed (in the kernel's worker) and `[data-role=ablation-result]` shows
 *   old vs new probabilities side by side.
 *
 * Traits: `attr_*` (scope_widgets/widgets/_attribution.py), `tokens`, `has_bos`, `labels`, and
 * `<featureTrait>`.
 */
import { toFloat32 } from "./binary";
import { displayToken, fmt, h, listen, replaceChildren, tokenLabel } from "./dom";
import { commit, getBool, getIntList, getOptInt, getString, getStringList, getStringMap, onChange } from "./traits";
import type { View, WidgetModel } from "./types";

export const DIVERGING_LEVELS = 10;

export interface AttributionOptions {
  featureTrait?: string;
  /** the trait of a token selected elsewhere (the Explorer's heatmap): adds an "explain it" button */
  selectedTokenTrait?: string;
}

/** The level of `value` on a diverging scale whose ends are +-`maxAbs`: 0 for 0, else at least +-1. */
export function divergingLevel(value: number, maxAbs: number): number {
  if (!(maxAbs > 0) || !Number.isFinite(value) || value === 0) return 0;
  const l = Math.min(DIVERGING_LEVELS, Math.ceil((Math.abs(value) / maxAbs) * DIVERGING_LEVELS));
  return value > 0 ? Math.max(1, l) : -Math.max(1, l);
}

/** The largest |value| of `values` (skipping position 0 when it is BOS). */
export function maxAbs(values: ArrayLike<number>, skipFirst: boolean): number {
  let m = 0;
  for (let i = skipFirst ? 1 : 0; i < values.length; i++) m = Math.max(m, Math.abs(values[i]));
  return m;
}

export interface AttrData {
  tokenScores: Float32Array;
  featureIds: number[];
  featureScores: Float32Array;
  columns: Map<number, Float32Array>;
}

/** The attribution traits, decoded (columns by feature id). */
export function readAttribution(model: WidgetModel): AttrData {
  const n = getStringList(model, "tokens").length;
  const ids = getIntList(model, "attr_feature_ids");
  const scores = toFloat32(model.get("attr_token_scores"));
  const featureScores = toFloat32(model.get("attr_feature_scores"));
  const flat = toFloat32(model.get("attr_columns"));
  const columns = new Map<number, Float32Array>();
  if (flat.length === ids.length * n) ids.forEach((id, r) => columns.set(id, flat.subarray(r * n, (r + 1) * n)));
  return {
    tokenScores: scores.length === n ? scores : new Float32Array(n),
    featureIds: ids,
    featureScores: featureScores.length === ids.length ? featureScores : new Float32Array(ids.length),
    columns,
  };
}

const pct = (p: unknown): string => (typeof p === "number" && Number.isFinite(p) ? `${(100 * p).toFixed(1)}%` : "–");

type Prediction = [string, number, number];

export function createAttribution(model: WidgetModel, opts: AttributionOptions = {}): View {
  const featureTrait = opts.featureTrait ?? "selected_feature";
  const summary = h("div", { class: "sw-attr-summary", attrs: { "data-role": "attr-summary", "aria-live": "polite" } });
  const legend = h("div", { class: "sw-legend sw-dim" });
  const strip = h("div", { class: "sw-tokens sw-attr-tokens", attrs: { role: "listbox", "aria-label": "Tokens: pick the position to explain" } });
  const preds = h("div", { class: "sw-attr-preds", attrs: { role: "group", "aria-label": "Top predictions" } });
  const rows = h("div", { class: "sw-rows sw-attr-rows", attrs: { role: "group", "aria-label": "Features by attribution" } });
  const ablate = h("button", { text: "ablate selected", attrs: { type: "button", "data-role": "ablate" } });
  const result = h("div", { class: "sw-attr-result", attrs: { "data-role": "ablation-result", "aria-live": "polite" } });
  const status = h("div", { class: "sw-status", attrs: { "data-role": "attr-status", role: "status" } });
  const explain = opts.selectedTokenTrait
    ? h("button", { text: "explain the selected token's next word", attrs: { type: "button", "data-role": "explain-token" } })
    : null;
  const el = h(
    "div",
    { class: "sw-attribution" },
    h("div", { class: "sw-controls" }, summary, ...(explain ? [explain] : [])),
    legend,
    strip,
    h("div", { class: "sw-attr-grid" },
      h("div", {}, h("h4", { text: "Top predictions here" }), preds),
      h("div", {}, h("h4", { text: "Features, by attribution" }), rows, h("div", { class: "sw-controls" }, ablate), result)),
    status,
  );

  const totals = h("button", { text: "colour by total", attrs: { type: "button", "data-role": "attr-total", hidden: true } });
  legend.after(totals);
  let spans: HTMLElement[] = [];
  let data: AttrData = readAttribution(model);
  /** the feature whose scores colour the strip: one picked in this list (null: the tokens' totals) */
  let shown: number | null = null;

  function buildStrip(): void {
    const tokens = getStringList(model, "tokens");
    const hasBos = getBool(model, "has_bos");
    spans = tokens.map((tok, i) => {
      const span = h("span", { class: "sw-atok", attrs: { "data-role": "attr-token", "data-attr-index": i, role: "option", tabindex: -1, "data-a": 0 } });
      if (hasBos && i === 0) span.setAttribute("data-bos", "");
      const shown = displayToken(tok);
      for (const seg of shown.segments) span.appendChild(seg.ws ? h("span", { class: "sw-ws", text: seg.text }) : document.createTextNode(seg.text));
      return span;
    });
    const parts: Node[] = [];
    spans.forEach((s, i) => {
      parts.push(s);
      for (let b = 0; b < displayToken(tokens[i]).newlines; b++) parts.push(document.createElement("br"));
    });
    replaceChildren(strip, ...parts);
  }

  function recolour(): void {
    const pos = getOptInt(model, "attr_position");
    const feature = shown;
    const column = feature !== null ? data.columns.get(feature) : undefined;
    totals.hidden = !column;
    const values = column ?? data.tokenScores;
    const hasBos = getBool(model, "has_bos");
    const m = maxAbs(values, hasBos);
    spans.forEach((s, i) => {
      s.setAttribute("data-a", String(divergingLevel(values[i] ?? 0, m)));
      s.toggleAttribute("data-after", pos !== null && i > pos);
      if (pos === i) s.setAttribute("aria-current", "true");
      else s.removeAttribute("aria-current");
      s.setAttribute("aria-selected", String(pos === i));
      s.setAttribute("tabindex", (pos ?? 0) === i ? "0" : "-1");
      s.title = `${tokenLabel(getStringList(model, "tokens")[i] ?? "")}: ${fmt(values[i] ?? 0)}`;
    });
    const label = feature !== null ? getStringMap(model, "labels").get(feature) : undefined;
    legend.textContent = pos === null ? "" : column
      ? `Colour: feature #${feature}${label ? ` (${label})` : ""}, its attribution at each token (blue helps the target, orange hurts); scale ±${fmt(m)}`
      : `Colour: each token's total feature attribution (blue helps the target, orange hurts); scale ±${fmt(m)}`;
  }

  function renderSummary(): void {
    const pos = getOptInt(model, "attr_position");
    const tokens = getStringList(model, "tokens");
    const target = getString(model, "attr_target");
    const contrast = model.get("attr_contrast") as string | null;
    if (pos === null) {
      summary.textContent = explain ? "Select a token, then explain what the model predicts after it." : "Pick a token to explain.";
      return;
    }
    const nodes = (model.get("attr_nodes") ?? {}) as Record<string, number>;
    summary.textContent =
      `After “${tokenLabel(tokens[pos] ?? "")}” the model predicts “${tokenLabel(target)}” with p = ${pct(model.get("attr_target_prob"))}` +
      (contrast !== null ? ` (vs “${tokenLabel(contrast)}”: ${pct(model.get("attr_contrast_prob"))})` : "") +
      (typeof nodes.error_share === "number" ? ` · error node ${(100 * nodes.error_share).toFixed(0)}% of the attribution` : "");
  }

  function renderPredictions(): void {
    const list = (model.get("attr_predictions") ?? []) as Prediction[];
    const target = getString(model, "attr_target");
    const contrast = model.get("attr_contrast") as string | null;
    replaceChildren(
      preds,
      ...list.map(([tok, p]) => {
        const asTarget = h("button", { text: "target", attrs: { type: "button", "data-action": "target", "aria-pressed": String(tok === target), title: "Explain this token" } });
        const asContrast = h("button", { text: "vs", attrs: { type: "button", "data-action": "contrast", "aria-pressed": String(tok === contrast), title: "Explain the target against this token (logit difference)" } });
        return h("div", { class: "sw-attr-pred", attrs: { "data-role": "prediction", "data-token": tok } },
          h("span", { class: "sw-mono", text: tokenLabel(tok) }), h("span", { class: "sw-mono sw-dim", text: pct(p) }), asTarget, asContrast);
      }),
    );
  }

  function renderFeatures(): void {
    const selected = getOptInt(model, featureTrait);
    const ticked = new Set(getIntList(model, "attr_ablate"));
    const labels = getStringMap(model, "labels");
    const m = maxAbs(data.featureScores, false);
    replaceChildren(
      rows,
      ...data.featureIds.map((id, r) => {
        const score = data.featureScores[r];
        const box = h("input", { attrs: { type: "checkbox", "data-role": "ablate-select", "aria-label": `ablate feature ${id}` } });
        box.checked = ticked.has(id);
        const bar = h("span", { class: `sw-attr-bar ${score >= 0 ? "sw-up" : "sw-down"}` });
        bar.style.width = `${m > 0 ? Math.max(2, (60 * Math.abs(score)) / m) : 0}px`;
        const row = h("div", {
          class: "sw-frow sw-attr-frow",
          attrs: { "data-role": "attr-feature", "data-attr-feature": id, "data-sign": score >= 0 ? "+" : "-", role: "button", tabindex: 0, "aria-pressed": String(selected === id) },
        },
        h("span", { class: "sw-fid", text: `#${id}` }),
        h("span", { class: "sw-flabel", text: labels.get(id) ?? "" }),
        h("span", { class: "sw-fval", text: `${score >= 0 ? "+" : ""}${fmt(score)}` }),
        bar);
        return h("div", { class: "sw-item" }, box, row);
      }),
    );
    ablate.disabled = ticked.size === 0;
    ablate.textContent = `ablate selected (${ticked.size})`;
  }

  function renderResult(): void {
    const r = (model.get("attr_result") ?? {}) as Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
    if (!r.after) {
      replaceChildren(result);
      return;
    }
    const column = (title: string, side: { target_prob: number; contrast_prob: number | null; predictions: [string, number][] }) =>
      h("div", { class: "sw-gen", attrs: { "data-side": title } },
        h("h4", { text: `${title}: p(“${tokenLabel(r.target)}”) = ${pct(side.target_prob)}` +
          (r.contrast !== null && r.contrast !== undefined ? `, p(“${tokenLabel(r.contrast)}”) = ${pct(side.contrast_prob)}` : "") }),
        h("ol", { class: "sw-mono" }, ...side.predictions.slice(0, 5).map(([t, p]) => h("li", { text: `${tokenLabel(t)}  ${pct(p)}` }))));
    replaceChildren(result,
      h("div", { class: "sw-dim", text: `Ablated ${r.features.map((f: number) => `#${f}`).join(", ")}: the logit${r.contrast ? " difference" : ""} moved by ${fmt(r.change)} (the attribution estimated ${fmt(r.estimated)}).` }),
      h("div", { class: "sw-gens" }, column("before", r.before), column("after", r.after)));
  }

  function renderStatus(): void {
    const s = getString(model, "attr_status");
    status.textContent = s === "computing" ? "Attributing…" : s === "ablating" ? "Rerunning with the features removed…" : s;
    status.setAttribute("data-kind", s.startsWith("error") ? "error" : "");
    el.toggleAttribute("data-busy", s === "computing" || s === "ablating");
  }

  function renderAll(): void {
    data = readAttribution(model);
    recolour();
    renderSummary();
    renderPredictions();
    renderFeatures();
    renderResult();
  }

  const show = (id: number): void => {
    shown = id;
    commit(model, { [featureTrait]: id });
    recolour();
  };
  const pick = (i: number): void => {
    if (i >= 0 && i < spans.length) commit(model, { attr_position: i, attr_target: null, attr_contrast: null });
  };
  const stops = [
    listen(strip, "click", (e) => {
      const t = (e.target as Element).closest("[data-attr-index]");
      if (t) pick(Number(t.getAttribute("data-attr-index")));
    }),
    listen(strip, "keydown", (e) => {
      const t = (e.target as Element).closest("[data-attr-index]");
      if (!t) return;
      const i = Number(t.getAttribute("data-attr-index"));
      if (e.key === "Enter" || e.key === " ") {
        e.preventDefault();
        pick(i);
      } else if (e.key === "ArrowRight" || e.key === "ArrowLeft") {
        e.preventDefault();
        const next = spans[Math.max(0, Math.min(spans.length - 1, i + (e.key === "ArrowRight" ? 1 : -1)))];
        next.setAttribute("tabindex", "0");
        next.focus();
      }
    }),
    listen(preds, "click", (e) => {
      const button = (e.target as Element).closest("button[data-action]");
      const row = button?.closest("[data-role=prediction]");
      if (!button || !row) return;
      const tok = row.getAttribute("data-token");
      if (button.getAttribute("data-action") === "target") {
        const contrast = model.get("attr_contrast") as string | null;
        commit(model, { attr_target: tok, attr_contrast: contrast === tok ? null : contrast });
      } else {
        const current = model.get("attr_contrast") as string | null;
        if (tok !== getString(model, "attr_target")) commit(model, { attr_contrast: current === tok ? null : tok });
      }
    }),
    listen(rows, "change", (e) => {
      const box = e.target as HTMLInputElement;
      const id = Number(box.closest(".sw-item")?.querySelector("[data-attr-feature]")?.getAttribute("data-attr-feature"));
      const ticked = new Set(getIntList(model, "attr_ablate"));
      if (box.checked) ticked.add(id);
      else ticked.delete(id);
      commit(model, { attr_ablate: [...ticked] });
    }),
    listen(rows, "click", (e) => {
      const row = (e.target as Element).closest("[data-role=attr-feature]");
      if (row) show(Number(row.getAttribute("data-attr-feature")));
    }),
    listen(rows, "keydown", (e) => {
      const row = (e.target as Element).closest("[data-role=attr-feature]");
      if (row && (e.key === "Enter" || e.key === " ")) {
        e.preventDefault();
        show(Number(row.getAttribute("data-attr-feature")));
      }
    }),
    listen(totals, "click", () => {
      shown = null;
      recolour();
    }),
    listen(ablate, "click", () => model.send({ type: "ablate", features: getIntList(model, "attr_ablate") })),
  ];
  if (explain && opts.selectedTokenTrait) {
    const trait = opts.selectedTokenTrait;
    stops.push(listen(explain, "click", () => pick(getOptInt(model, trait) ?? spans.length - 1)));
  }

  buildStrip();
  renderAll();
  renderStatus();
  const offs = [
    onChange(model, ["tokens", "has_bos"], () => {
      buildStrip();
      renderAll();
    }),
    onChange(model, ["attr_token_scores", "attr_feature_ids", "attr_feature_scores", "attr_columns", "attr_predictions",
      "attr_position", "attr_target", "attr_contrast", "attr_nodes", "attr_target_prob", "attr_contrast_prob"], renderAll),
    onChange(model, [featureTrait, "labels"], () => {
      if (getOptInt(model, featureTrait) !== shown) shown = null; // a feature picked elsewhere: back to totals
      recolour();
      renderFeatures();
    }),
    onChange(model, ["attr_ablate"], renderFeatures),
    onChange(model, ["attr_result"], renderResult),
    onChange(model, ["attr_status"], renderStatus),
  ];

  return {
    el,
    destroy() {
      for (const off of [...stops, ...offs]) off();
    },
  };
}
