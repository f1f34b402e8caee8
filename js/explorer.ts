/**
 * Explorer: heatmap, feature list, dashboard and steering on one model, in one layout.
 *
 * All four views share the model, so a click on a feature sets `selected_feature` locally
 * and the heatmap recolours in the same event, before (and whether or not) the kernel hears
 * of it. Traits: `selected_token`, `selected_feature`, `steering` ({id: coefficient}) plus
 * those of each view. The "why this next token?" panel (attribution.ts) explains the prediction after
 * the selected token on request: attribution costs a forward and a backward pass, so it never runs
 * on a mere click in the heatmap. The text is editable in place (textEdit.ts): the heatmap follows as
 * you type.
 */
import { createAttribution } from "./attribution";
import { scaleMax } from "./colors";
import { createDashboard } from "./dashboard";
import { h } from "./dom";
import { createFeatureList } from "./featureList";
import { createHeatmap } from "./heatmap";
import { commit, getNumber, getNumberMap, getString, getStringList, onChange } from "./traits";
import { createSteering } from "./steering";
import { storeFor } from "./store";
import { createTextEditor } from "./textEdit";
import type { View, WidgetModel } from "./types";

export function createExplorer(model: WidgetModel): View {
  const store = storeFor(model);

  const heatmap = createHeatmap(model, { featureTrait: "selected_feature", tokenTrait: "selected_token" });
  let steeringView: View | null = null;
  const list = createFeatureList(model, {
    featureTrait: "selected_feature",
    positionTrait: "selected_token",
    onSteer: (id) => {
      const current = getNumberMap(model, "steering");
      if (!current.has(id)) {
        const next: Record<string, number> = {};
        for (const [k, c] of current) next[String(k)] = c;
        next[String(id)] = 0;
        commit(model, { steering: next });
      }
      const slider = steeringView?.el.querySelector<HTMLInputElement>(`input[type="range"][data-feature-id="${id}"]`);
      slider?.focus();
    },
  });
  const dashboard = createDashboard(model, { featureTrait: "selected_feature", textStats: true });
  steeringView = createSteering(model, {
    coefTrait: "steering",
    emptyHint: "No features to steer yet: press “steer” on a feature in the list.",
    typicalMax: (id) => {
      try {
        const max = scaleMax(store.column(id, false).values, store.data().hasBos);
        return max > 0 ? max : null;
      } catch {
        return null;
      }
    },
  });

  const editor = createTextEditor(model);
  const why = createAttribution(model, { featureTrait: "selected_feature", selectedTokenTrait: "selected_token" });

  const title = h("div", { class: "sw-title" }, h("h3", { text: "Scope Explorer" }));
  const info = h("span", { class: "sw-dim" });
  title.appendChild(info);
  const renderInfo = (): void => {
    const sae = getString(model, "sae_name");
    const n = getNumber(model, "n_tokens", getStringList(model, "tokens").length);
    info.textContent = [`${n} tokens`, sae].filter(Boolean).join(" · ");
  };
  renderInfo();

  const el = h(
    "div",
    { class: "sw-explorer" },
    h("section", { class: "sw-panel sw-wide", attrs: { "aria-label": "Tokens" } }, title, editor.el, heatmap.el),
    h("section", { class: "sw-panel", attrs: { "aria-label": "Features" } }, list.el),
    h("section", { class: "sw-panel", attrs: { "aria-label": "Feature dashboard" } }, dashboard.el),
    h("section", { class: "sw-panel sw-wide", attrs: { "aria-label": "Why this next token" } }, h("h3", { text: "Why this next token?" }), why.el),
    h("section", { class: "sw-panel sw-wide", attrs: { "aria-label": "Steering" } }, h("h3", { text: "Steering" }), steeringView.el),
  );
  const stopInfo = onChange(model, ["tokens", "n_tokens", "sae_name"], renderInfo);

  return {
    el,
    destroy() {
      stopInfo();
      for (const v of [heatmap, list, dashboard, why, editor, steeringView]) v?.destroy();
    },
  };
}
