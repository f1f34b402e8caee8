import { afterEach, describe, expect, it } from "vitest";
import { divergingLevel, maxAbs, readAttribution } from "../attribution";
import { render } from "../render";
import { FakeModel, asDataView } from "./fakeModel";

const TOKENS = ["<bos>", "The", " capital", " of", " France", " is"];

/** What the kernel sends after attributing " Paris" after " is" (position 5). */
function attributionState(extra: Record<string, unknown> = {}): Record<string, unknown> {
  const n = TOKENS.length;
  const ids = [7, 3, 9];
  const columns = new Float32Array(ids.length * n);
  columns.set([0, 0, 0, 0, 2.0, 0.5], 0); // 7 helps at " France"
  columns.set([0, 0, 0, 0, 0, -1.0], n); // 3 hurts at " is"
  columns.set([0, 0.1, 0, 0, 0, 0], 2 * n);
  return {
    tokens: TOKENS,
    has_bos: true,
    labels: { "7": "France / French", "3": "is / are" },
    selected_feature: null,
    attr_position: 5,
    attr_target: " Paris",
    attr_contrast: null,
    attr_predictions: [[" the", 0.19, 11], [" Paris", 0.08, 12], [" a", 0.07, 13]],
    attr_target_prob: 0.084,
    attr_contrast_prob: null,
    attr_token_scores: asDataView(new Float32Array([0, 0.1, 0, 0, 2.0, -0.5]), 4),
    attr_feature_ids: ids,
    attr_feature_scores: asDataView(new Float32Array([2.5, -1.0, 0.1])),
    attr_columns: asDataView(columns),
    attr_nodes: { features: 1.6, error: 0.2, error_share: 0.07 },
    attr_ablate: [],
    attr_result: {},
    attr_status: "",
    dashboard: {},
    dashboard_values: null,
    feature_max: {},
    ...extra,
  };
}

function mount(state: Record<string, unknown>) {
  const model = new FakeModel({ view: "attribution", ...state });
  const el = document.createElement("div");
  document.body.appendChild(el);
  const cleanup = render({ model, el });
  const tok = (i: number) => el.querySelector<HTMLElement>(`[data-role=attr-token][data-attr-index="${i}"]`)!;
  const row = (id: number) => el.querySelector<HTMLElement>(`[data-role=attr-feature][data-attr-feature="${id}"]`)!;
  return { model, el, cleanup, tok, row };
}

afterEach(() => document.body.replaceChildren());

describe("diverging scale", () => {
  it("maps sign and size to levels -10..10, never 0 for a non-zero value", () => {
    expect(divergingLevel(0, 5)).toBe(0);
    expect(divergingLevel(5, 5)).toBe(10);
    expect(divergingLevel(-5, 5)).toBe(-10);
    expect(divergingLevel(0.001, 5)).toBe(1);
    expect(divergingLevel(-0.001, 5)).toBe(-1);
    expect(divergingLevel(1, 0)).toBe(0);
    expect(divergingLevel(Number.NaN, 1)).toBe(0);
    expect(maxAbs([100, -3, 2], true)).toBe(3); // BOS skipped
  });

  it("decodes the binary traits (DataViews at odd offsets too)", () => {
    const d = readAttribution(new FakeModel(attributionState()));
    expect(Array.from(d.tokenScores)).toEqual([0, 0.10000000149011612, 0, 0, 2, -0.5]);
    expect(d.columns.get(3)![5]).toBe(-1);
    expect(d.featureIds).toEqual([7, 3, 9]);
  });
});

describe("Attribution view", () => {
  it("colours tokens by total attribution, helps vs hurts, and marks the explained position", () => {
    const { el, tok } = mount(attributionState({ selected_feature: 7 })); // a selection alone does not recolour
    expect(tok(4).getAttribute("data-a")).toBe("10");
    expect(tok(5).getAttribute("data-a")).toBe("-3");
    expect(tok(0).hasAttribute("data-bos")).toBe(true);
    expect(tok(5).getAttribute("aria-current")).toBe("true");
    expect(el.querySelector("[data-role=attr-summary]")!.textContent).toContain("“·Paris” with p = 8.4%");
    expect(el.querySelector("[data-role=attr-summary]")!.textContent).toContain("error node 7%");
  });

  it("ranks features with their sign, and a click colours the text by that feature", () => {
    const { model, row, tok, el } = mount(attributionState());
    expect(row(7).getAttribute("data-sign")).toBe("+");
    expect(row(3).getAttribute("data-sign")).toBe("-");
    expect(row(3).querySelector(".sw-fval")!.textContent).toBe("-1");
    expect(row(7).textContent).toContain("France / French");
    row(3).click();
    expect(model.get("selected_feature")).toBe(3);
    expect(tok(5).getAttribute("data-a")).toBe("-10");
    expect(tok(4).getAttribute("data-a")).toBe("0");
    expect(el.querySelector(".sw-legend")!.textContent).toContain("feature #3 (is / are)");
    el.querySelector<HTMLButtonElement>("[data-role=attr-total]")!.click();
    expect(tok(4).getAttribute("data-a")).toBe("10");
    row(3).click();
    model.kernelSet({ selected_feature: 9 }); // picked elsewhere (the Explorer's list): totals again
    expect(tok(4).getAttribute("data-a")).toBe("10");
  });

  it("a token click asks for the prediction after it, with the top prediction as target", () => {
    const { model, tok } = mount(attributionState({ attr_contrast: " the" }));
    tok(3).click();
    expect(model.saved.at(-1)).toEqual({ attr_position: 3, attr_target: null, attr_contrast: null });
  });

  it("picks a target and a contrast from the predictions", () => {
    const { model, el } = mount(attributionState());
    const button = (tok: string, action: string) =>
      el.querySelector<HTMLButtonElement>(`[data-role=prediction][data-token="${tok}"] [data-action=${action}]`)!;
    expect(button(" Paris", "target").getAttribute("aria-pressed")).toBe("true");
    button(" the", "contrast").click();
    expect(model.get("attr_contrast")).toBe(" the");
    button(" Paris", "contrast").click(); // the target cannot be its own contrast
    expect(model.get("attr_contrast")).toBe(" the");
    button(" the", "target").click(); // the contrast becomes the target: the contrast is cleared
    expect(model.get("attr_target")).toBe(" the");
    expect(model.get("attr_contrast")).toBeNull();
  });

  it("ablates the ticked features through the kernel and shows old vs new side by side", () => {
    const { model, el } = mount(attributionState());
    const ablate = el.querySelector<HTMLButtonElement>("[data-role=ablate]")!;
    expect(ablate.disabled).toBe(true);
    const box = el.querySelector<HTMLInputElement>(`[data-role=ablate-select][aria-label="ablate feature 7"]`)!;
    box.checked = true;
    box.dispatchEvent(new Event("change", { bubbles: true }));
    expect(model.get("attr_ablate")).toEqual([7]);
    expect(ablate.disabled).toBe(false);
    ablate.click();
    expect(model.sentOfType("ablate")).toEqual([{ type: "ablate", features: [7] }]);
    model.kernelSet({ attr_status: "ablating" });
    expect(el.querySelector("[data-role=attr-status]")!.textContent).toContain("Rerunning");
    model.kernelSet({
      attr_status: "",
      attr_result: {
        features: [7], target: " Paris", contrast: null, change: -2.1, estimated: -2.5,
        before: { target_prob: 0.084, contrast_prob: null, predictions: [[" the", 0.19], [" Paris", 0.084]] },
        after: { target_prob: 0.01, contrast_prob: null, predictions: [[" the", 0.3], [" a", 0.1]] },
      },
    });
    const result = el.querySelector("[data-role=ablation-result]")!;
    expect(result.querySelector("[data-side=before]")!.textContent).toContain("8.4%");
    expect(result.querySelector("[data-side=after]")!.textContent).toContain("p(“·Paris”) = 1.0%");
    expect(result.textContent).toContain("moved by -2.1 (the attribution estimated -2.5)");
  });

  it("shows token text as text, never as markup", () => {
    const { el } = mount(attributionState({ tokens: ["<bos>", "<img src=x onerror=alert(1)>", "b", "c", "d", "e"] }));
    expect(el.querySelector("img")).toBeNull();
    expect(el.textContent).toContain("<img·src=x·onerror=alert(1)>"); // spaces shown as dim dots
  });

  it("is keyboard reachable and cleans up its listeners", () => {
    const { model, tok, cleanup } = mount(attributionState());
    expect(tok(5).tabIndex).toBe(0);
    tok(5).dispatchEvent(new KeyboardEvent("keydown", { key: "ArrowLeft", bubbles: true }));
    tok(4).dispatchEvent(new KeyboardEvent("keydown", { key: "Enter", bubbles: true }));
    expect(model.get("attr_position")).toBe(4);
    cleanup();
    expect(model.listenerCount()).toBe(0);
  });
});
