/**
 * Compare: two texts side by side (`[data-side=a]`, `[data-side=b]`, each a heatmap with the usual
 * `[data-token-index]` tokens), coloured by one `selected_feature` on one shared scale, and the features that differ most
 * (`[data-role=diff-feature][data-feature-id][data-more-in=a|b]`). A click on a row, or on a feature in a
 * token's tooltip list, sets `selected_feature` locally: both texts recolour in the same event.
 * `[data-role=compare-by]` picks the ranking (`by`: max, mean, or max against the usual level).
 *
 * Traits: `a_*` / `b_*` (each side's activation data, as store.ts reads it), `text_a`, `text_b`,
 * `selected_feature`, `labels`, `by`, `diff_ids` with `diff_a` / `diff_b` (float32).
 */
import { toFloat32 } from "./binary";
import { scaleMax } from "./colors";
import { fmt, h, listen, replaceChildren } from "./dom";
import { createHeatmap } from "./heatmap";
import { prefixedModel } from "./prefixed";
import { storeFor } from "./store";
import { commit, getIntList, getOptInt, getString, getStringMap, onChange } from "./traits";
import type { View, WidgetModel } from "./types";

const SHARED = ["selected_feature", "labels", "sae_name"] as const;

export interface DiffRow {
  id: number;
  a: number;
  b: number;
}

export function diffRows(model: WidgetModel): DiffRow[] {
  const ids = getIntList(model, "diff_ids");
  const a = toFloat32(model.get("diff_a"));
  const b = toFloat32(model.get("diff_b"));
  if (a.length !== ids.length || b.length !== ids.length) return [];
  return ids.map((id, i) => ({ id, a: a[i], b: b[i] }));
}

export const BY = ["max", "mean", "relative"] as const;

export function createCompare(model: WidgetModel): View {
  const sideModels = { a: prefixedModel(model, "a", SHARED), b: prefixedModel(model, "b", SHARED) };
  /** One scale for both texts: the same colour is the same activation on either side. */
  const shared = (feature: number, values: ArrayLike<number>, hasBos: boolean): number => {
    let top = scaleMax(values, hasBos);
    for (const m of Object.values(sideModels)) {
      try {
        const store = storeFor(m);
        top = Math.max(top, scaleMax(store.column(feature, false).values, store.data().hasBos));
      } catch {
        /* that side has no data yet */
      }
    }
    return top;
  };
  const sides = (["a", "b"] as const).map((side) => {
    const sideModel = sideModels[side];
    const heatmap = createHeatmap(sideModel, { featureTrait: "selected_feature", tokenTrait: "selected_token", scale: shared });
    const title = h("h4", { text: side === "a" ? "Text A" : "Text B" });
    const el = h("section", { class: "sw-panel sw-compare-side", attrs: { "data-side": side, "aria-label": `Text ${side.toUpperCase()}` } }, title, heatmap.el);
    return { side, heatmap, el };
  });
  const rows = h("div", { class: "sw-rows", attrs: { role: "group", "aria-label": "Features that differ most" } });
  const head = h("h4");
  const by = h("select", { attrs: { "data-role": "compare-by", "aria-label": "Compare features by" } },
    ...BY.map((b) => h("option", { text: b === "relative" ? "max against the usual level" : `${b} activation`, attrs: { value: b } })));
  const el = h(
    "div",
    { class: "sw-compare" },
    h("div", { class: "sw-compare-texts" }, ...sides.map((s) => s.el)),
    h("section", { class: "sw-panel", attrs: { "aria-label": "Differences" } }, h("div", { class: "sw-flist-head" }, head, by), rows),
  );

  function renderRows(): void {
    const list = diffRows(model);
    const labels = getStringMap(model, "labels");
    const selected = getOptInt(model, "selected_feature");
    by.value = getString(model, "by", "max");
    head.textContent = "Features that differ most, by";
    const m = Math.max(1e-9, ...list.map((r) => Math.abs(r.a - r.b)));
    replaceChildren(
      rows,
      ...list.map((r) => {
        const moreIn = r.a >= r.b ? "a" : "b";
        const bar = h("span", { class: `sw-attr-bar ${moreIn === "a" ? "sw-up" : "sw-down"}` });
        bar.style.width = `${Math.max(2, (60 * Math.abs(r.a - r.b)) / m)}px`;
        return h("div", {
          class: "sw-frow sw-diff-row",
          attrs: { "data-role": "diff-feature", "data-feature-id": r.id, "data-more-in": moreIn, role: "button", tabindex: 0, "aria-pressed": String(selected === r.id) },
        },
        h("span", { class: "sw-fid", text: `#${r.id}` }),
        h("span", { class: "sw-flabel", text: labels.get(r.id) ?? "" }),
        h("span", { class: "sw-fval", text: `${fmt(r.a)} / ${fmt(r.b)}`, attrs: { title: "in A / in B" } }),
        h("span", { class: "sw-dim", text: `more in ${moreIn.toUpperCase()}` }),
        bar);
      }),
    );
  }
  const pick = (target: EventTarget | null): void => {
    const row = target instanceof Element ? target.closest("[data-role=diff-feature]") : null;
    if (row) commit(model, { selected_feature: Number(row.getAttribute("data-feature-id")) });
  };
  const stops = [
    listen(rows, "click", (e) => pick(e.target)),
    listen(rows, "keydown", (e) => {
      if (e.key === "Enter" || e.key === " ") {
        e.preventDefault();
        pick(e.target);
      }
    }),
    listen(by, "change", () => commit(model, { by: by.value })),
    onChange(model, ["diff_ids", "diff_a", "diff_b", "labels", "selected_feature", "by"], renderRows),
  ];
  renderRows();
  return {
    el,
    destroy() {
      for (const s of stops) s();
      for (const s of sides) s.heatmap.destroy();
    },
  };
}
