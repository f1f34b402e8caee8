/**
 * `render` and `initialize` for anywidget (exported as the default object by index.ts):
 * `render` dispatches on the model's `view` trait
 * ("heatmap" | "features" | "dashboard" | "steering" | "explorer" | "attribution" | "compare").
 */
import { createAttribution } from "./attribution";
import { trackTheme } from "./colors";
import { createCompare } from "./compare";
import { createDashboard } from "./dashboard";
import { h } from "./dom";
import { createExplorer } from "./explorer";
import { createFeatureList } from "./featureList";
import { createHeatmap } from "./heatmap";
import { getBool, getString } from "./traits";
import { createSteering } from "./steering";
import { storeFor } from "./store";
import { CSS, ensureStyles } from "./styles";
import type { View, WidgetModel } from "./types";

export function createView(model: WidgetModel, name: string): View {
  switch (name) {
    case "heatmap":
      return createHeatmap(model, { featureTrait: "feature", tokenTrait: "selected_token" });
    case "features":
      return createFeatureList(model, {
        featureTrait: "selected_feature",
        positionTrait: "position",
        onSteer: (id) => model.send({ type: "steer", feature: id }),
        canSteer: () => getBool(model, "can_steer"),
      });
    case "dashboard":
      return createDashboard(model, { featureTrait: "feature" });
    case "steering":
      return createSteering(model, {
        coefTrait: "coefficients",
        emptyHint: "No features to steer: pass features=[...] or call add_feature(id).",
      });
    case "explorer":
      return createExplorer(model);
    case "compare":
      return createCompare(model);
    case "attribution": {
      const attribution = createAttribution(model, { featureTrait: "selected_feature" });
      const dashboard = createDashboard(model, { featureTrait: "selected_feature" });
      return {
        el: h("div", { class: "sw-attr-view" }, attribution.el, h("section", { class: "sw-attr-dash", attrs: { "aria-label": "Feature dashboard" } }, dashboard.el)),
        destroy() {
          attribution.destroy();
          dashboard.destroy();
        },
      };
    }
    default:
      throw new Error(`unknown view ${JSON.stringify(name)}`);
  }
}

const SHADOW_STYLE = "scope-widgets-style";

/**
 * The stylesheet where `el` lives: its document, and the shadow root around it when the host renders
 * widgets in one (marimo does: the document's stylesheet does not reach inside). A host may attach
 * `el` after render, so until it is in the page this looks again on each frame (for at most ~600 frames);
 * returns the stop.
 */
function styleWhereMounted(el: HTMLElement): () => void {
  const place = (): boolean => {
    ensureStyles(el.ownerDocument ?? document);
    const root = typeof el.getRootNode === "function" ? el.getRootNode() : null;
    if (typeof ShadowRoot !== "undefined" && root instanceof ShadowRoot) {
      let style = root.querySelector<HTMLStyleElement>(`style[data-sw-style="${SHADOW_STYLE}"]`);
      if (!style) {
        style = (el.ownerDocument ?? document).createElement("style");
        style.setAttribute("data-sw-style", SHADOW_STYLE);
        root.appendChild(style);
      }
      if (style.textContent !== CSS) style.textContent = CSS; // an older bundle's copy is replaced
    }
    return el.isConnected;
  };
  if (place() || typeof requestAnimationFrame !== "function") return () => {};
  let frame = 0;
  let left = 600;
  const retry = (): void => {
    frame = place() || --left <= 0 ? 0 : requestAnimationFrame(retry);
  };
  frame = requestAnimationFrame(retry);
  return () => {
    if (frame && typeof cancelAnimationFrame === "function") cancelAnimationFrame(frame);
    frame = 0;
  };
}

/** Mount the view named by the model's `view` trait into `el`; returns the cleanup. */
export function render({ model, el }: { model: WidgetModel; el: HTMLElement }): () => void {
  const stopStyles = styleWhereMounted(el);
  const name = getString(model, "view");
  const root = h("div", {
    class: `sw-root sw-view-${name.replace(/[^a-z]/g, "")}${name === "explorer" ? "" : " sw-panel"}`,
    attrs: { "data-lm-suppress-shortcuts": "true", "data-p-suppress-shortcuts": "true", "data-sw-view": name },
  });
  el.appendChild(root);
  const stopTheme = trackTheme(root);
  let view: View | null = null;
  try {
    view = createView(model, name);
    root.appendChild(view.el);
  } catch (e) {
    root.appendChild(h("div", { class: "sw-error", attrs: { role: "alert" }, text: `scope_widgets: ${String(e)}` }));
  }
  return () => {
    stopStyles();
    view?.destroy();
    stopTheme();
    root.remove();
  };
}

/** Per-model setup: the shared activation store (and its message handler) exists before any view. */
export function initialize({ model }: { model: WidgetModel }): void {
  storeFor(model);
}
