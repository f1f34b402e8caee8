/**
 * TokenHeatmap: the text as tokens, each coloured by one feature's activation.
 *
 * Each token is one focusable `span[data-token-index]` (role option in a listbox, roving
 * tabindex). Recolouring writes one attribute (`data-h`, the heat level) per token whose
 * level changed; the colours live in CSS, so a theme switch needs no work here and 2,000
 * tokens recolour in well under a frame.
 *
 * Traits: `<featureTrait>` (int | null) the feature shown, `<tokenTrait>` (int | null) the
 * selected token; both are set here on click / Enter / Space and listened to.
 */
import { argMax, heatLevel, scaleMax } from "./colors";
import { displayToken, fmt, h, listen, replaceChildren, tokenLabel, uniqueId } from "./dom";
import { commit, getOptInt, onChange } from "./traits";
import { type ActData, DATA_TRAITS, type Store, storeFor, topAt } from "./store";
import type { View, WidgetModel } from "./types";

export interface HeatmapOptions {
  /** trait holding the feature that colours the tokens */
  featureTrait?: string;
  /** trait holding the selected token */
  tokenTrait?: string;
  /** features listed in the tooltip */
  tooltipFeatures?: number;
}

const LEVEL_STRINGS = Array.from({ length: 21 }, (_, i) => String(i));

/**
 * Set the heat level of each token span from `values`; only changed levels are written.
 * `levels` holds the current level of each span (updated in place). Returns the scale max.
 */
export function recolor(
  spans: ArrayLike<HTMLElement>,
  levels: Uint8Array,
  values: ArrayLike<number> | null,
  hasBos: boolean,
): number {
  const max = values ? scaleMax(values, hasBos) : 0;
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

/** Build the token spans (and line breaks) for `tokens` into a fragment. */
export function buildTokens(tokens: string[], hasBos: boolean): { fragment: DocumentFragment; spans: HTMLElement[] } {
  const fragment = document.createDocumentFragment();
  const spans: HTMLElement[] = new Array(tokens.length);
  for (let i = 0; i < tokens.length; i++) {
    const span = document.createElement("span");
    span.className = "sw-tok";
    span.setAttribute("role", "option");
    span.setAttribute("tabindex", i === 0 ? "0" : "-1");
    span.setAttribute("data-token-index", String(i));
    span.setAttribute("aria-selected", "false");
    span.setAttribute("data-h", "0");
    if (hasBos && i === 0) span.setAttribute("data-bos", "");
    const shown = displayToken(tokens[i]);
    for (const seg of shown.segments) {
      if (seg.ws) {
        const ws = document.createElement("span");
        ws.className = "sw-ws";
        ws.textContent = seg.text;
        span.appendChild(ws);
      } else {
        span.appendChild(document.createTextNode(seg.text));
      }
    }
    spans[i] = span;
    fragment.appendChild(span);
    for (let b = 0; b < shown.newlines; b++) fragment.appendChild(document.createElement("br"));
  }
  return { fragment, spans };
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
      if (!el.contains(document.activeElement)) setActive(selected, false);
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

  function recolorNow(): void {
    if (!data) return;
    const t0 = performance.now();
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
    const max = recolor(spans, levels, shownValues, data.hasBos);
    el.setAttribute("data-recolor-ms", (performance.now() - t0).toFixed(3));
    if (f !== null) el.setAttribute("data-feature", String(f));
    else el.removeAttribute("data-feature");
    renderLegend(max);
    if (tipFor >= 0) showTooltip(tipFor);
  }

  function rebuild(): void {
    hideTooltip();
    try {
      data = store.data();
    } catch (e) {
      data = null;
      spans = [];
      replaceChildren(tokensEl, h("span", { class: "sw-error", text: `Cannot show the tokens: ${String(e)}` }));
      return;
    }
    const built = buildTokens(data.tokens, data.hasBos);
    spans = built.spans;
    levels = new Uint8Array(spans.length);
    active = 0;
    selected = null;
    replaceChildren(tokensEl, built.fragment);
    tokensEl.setAttribute("aria-label", `Tokens (${data.n})`);
    applySelection();
    recolorNow();
  }

  function showTooltip(i: number): void {
    if (!data || !spans[i]) return;
    tipFor = i;
    const labels = store.labels();
    const rows = topAt(data, i, nTooltip).map(([id, v]) =>
      h(
        "tr",
        undefined,
        h("td", { class: "sw-mono sw-dim", text: `#${id}` }),
        h("td", { text: labels.get(id) ?? "" }),
        h("td", { class: "sw-num", text: fmt(v) }),
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
      const focused = tokenIndexOf(document.activeElement);
      if (focused >= 0 && tokensEl.contains(document.activeElement)) showTooltip(focused);
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
    onChange(model, DATA_TRAITS, rebuild),
    onChange(model, [featureTrait], recolorNow),
    onChange(model, [tokenTrait], applySelection),
    onChange(model, ["labels"], () => {
      renderLegend(shownValues && data ? scaleMax(shownValues, data.hasBos) : 0);
      if (tipFor >= 0) showTooltip(tipFor);
    }),
    store.subscribe((f) => {
      if (f === getOptInt(model, featureTrait)) recolorNow();
    }),
  ];

  rebuild();

  return {
    el,
    destroy() {
      for (const c of cleanups) c();
    },
  };
}
