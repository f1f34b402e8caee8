import { afterEach, describe, expect, it } from "vitest";
import { autoLabelKey, densityText, histogramSvg, logSpaced, parseDashboard } from "../dashboard";
import { render } from "../render";
import { FakeModel } from "./fakeModel";

const dash = {
  feature: 7,
  status: "ok",
  label: "Paris",
  label_source: "auto",
  density: 0.0012,
  max_activation: 10,
  can_label: true,
  histogram: { edges: [0, 2, 4, 6, 8, 10], counts: [500, 120, 30, 4, 1] },
  examples: [
    { tokens: ["I", " love", " Paris", "!"], offset: 0, length: 4, max_pos: 2 },
    { tokens: ["<b>", "Paris", "</b>"], offset: 4, length: 3, max_pos: 1 },
  ],
  logits_promoted: [[" France", 2.5], [" Eiffel", 1.2]],
  logits_suppressed: [[" London", -1.5]],
};
const values = new Float32Array([0, 0, 10, 1, 0, 5, 0]);

function mount(state: Record<string, unknown>) {
  const model = new FakeModel({ view: "dashboard", feature: 7, dashboard: dash, dashboard_values: new DataView(values.buffer), ...state });
  const el = document.createElement("div");
  document.body.appendChild(el);
  render({ model, el });
  return { model, el };
}

afterEach(() => document.body.replaceChildren());

describe("FeatureDashboard", () => {
  it("shows label, density, max, histogram, examples and logit effects", () => {
    const { el } = mount({});
    expect(el.querySelector("h3")!.textContent).toContain("Feature #7 · Paris");
    expect(el.textContent).toContain("0.12% of tokens (1 in 833)");
    expect(el.textContent).toContain("max activation 10");
    const bars = el.querySelectorAll("svg.sw-hist rect.sw-bar");
    expect(bars.length).toBe(5);
    expect(el.querySelector("svg.sw-hist")!.getAttribute("aria-label")).toContain("5 bins");
    const ex = el.querySelectorAll(".sw-example");
    expect(ex.length).toBe(2);
    const strongest = ex[0].querySelector(".sw-max")!;
    expect(strongest.textContent).toBe("·Paris");
    expect(strongest.getAttribute("data-h")).toBe("20");
    expect(ex[1].querySelector(".sw-max")!.getAttribute("data-h")).toBe("10");
    expect(el.querySelector("b")).not.toBeNull(); // the stats' own <b>
    expect(ex[1].textContent).toBe("<b>Paris</b>"); // model text stays text
    expect(ex[1].querySelector("b")).toBeNull();
    expect(el.querySelector(".sw-up")!.textContent).toContain("·France");
    expect(el.querySelector(".sw-down")!.textContent).toContain("·London");
    expect(el.querySelector("[data-token-index]")).toBeNull(); // example tokens are not heatmap tokens
  });

  it("explains the parts of an automatic label in a tooltip, only those it has", () => {
    const key = autoLabelKey("time period: years / ago / 8 · top: inside numbers, before -")!;
    expect(key).toContain("usually fires on");
    expect(key).toContain("names a kind");
    expect(key).toContain("where its strongest examples stand");
    expect(key).not.toContain("→");
    expect(autoLabelKey("Paris / France → French")).toContain("more likely to write next");
    expect(autoLabelKey("after / before / during")).toBeNull(); // words, not a context
    expect(autoLabelKey("Paris")).toBeNull();
    const { el } = mount({ dashboard: { ...dash, label: "he / his / was · top: salesman / child" } });
    expect(el.querySelector("h3")!.textContent).toBe("Feature #7 · he / his / was · top: salesman / child (auto label)");
    const note = el.querySelector("h3 .sw-help")!; // dotted underline, a help cursor and the key as its tooltip
    expect(note.textContent).toBe("auto label");
    expect(note.getAttribute("title")).toContain("20 strongest examples");
    document.body.replaceChildren();
    const plain = mount({}).el; // "Paris": nothing to explain, no tooltip
    expect(plain.querySelector("h3")!.textContent).toBe("Feature #7 · Paris (auto label)");
    expect(plain.querySelector("h3 .sw-help")).toBeNull();
    expect(plain.querySelector("h3 [title]")).toBeNull();
  });

  it("sends label edits to the kernel and shows the reply", () => {
    const { model, el } = mount({});
    const input = el.querySelector<HTMLInputElement>('input[aria-label="Label for feature 7"]')!;
    expect(input.value).toBe("Paris");
    input.value = "  the city of Paris ";
    input.dispatchEvent(new KeyboardEvent("keydown", { key: "Enter", bubbles: true }));
    expect(model.sentOfType("set_label")).toEqual([{ type: "set_label", feature: 7, label: "the city of Paris" }]);
    expect(el.textContent).toContain("saving…");
    model.kernelSend({ type: "label_saved", feature: 7, label: "the city of Paris" });
    expect(el.textContent).toContain("saved");
    model.kernelSend({ type: "label_error", feature: 7, error: "read-only" });
    expect(el.textContent).toContain("not saved: read-only");
  });

  it("says when it is loading or has no data", () => {
    const { model, el } = mount({ feature: 8 });
    expect(el.textContent).toContain("Loading the dashboard of feature #8");
    model.kernelSet({ dashboard: { feature: 8, status: "unavailable", message: "no dashboard data for this SAE" } });
    expect(el.textContent).toContain("no dashboard data for this SAE");
    model.kernelSet({ feature: null });
    expect(el.textContent).toContain("Select a feature");
  });

  it("draws log-spaced bins on a log axis", () => {
    const edges = [0.001, 0.01, 0.1, 1, 10];
    expect(logSpaced(edges)).toBe(true);
    expect(logSpaced([0, 1, 2, 3])).toBe(false);
    const el = histogramSvg({ edges, counts: [1, 1, 1, 1] }, 320, 96);
    const widths = [...el.querySelectorAll("rect.sw-bar")].map((r) => Number(r.getAttribute("width")));
    expect(Math.max(...widths) - Math.min(...widths)).toBeLessThan(0.01); // equal widths per decade
    expect(el.textContent).toContain("activation (log)");
  });

  it("parses partial or malformed dashboards without throwing", () => {
    expect(parseDashboard(null).feature).toBeNull();
    const d = parseDashboard({ feature: 3, histogram: { edges: [0, 1], counts: [1, 2] }, logits_promoted: [["a"], ["b", 1]] });
    expect(d.histogram).toBeNull(); // edges must be one longer than counts
    expect(d.logits_promoted).toEqual([["b", 1]]);
    expect(densityText(0)).toBe("never active");
    expect(densityText(0.5)).toBe("50.0% of tokens (1 in 2)");
    const f = parseDashboard({ feature: 3, frequent_tokens: [[" it", 12, 0.5], ["x", "n", 0.1], ["y", 2], null] });
    expect(f.frequent_tokens).toEqual([[" it", 12, 0.5]]);
    expect(parseDashboard({ feature: 3 }).frequent_tokens).toEqual([]);
  });

  it("lists the tokens the feature usually fires on, above its top examples", () => {
    const { el } = mount({ dashboard: { ...dash, frequent_tokens: [[" Paris", 40, 0.92], ["\n", 3, 0.05]] } });
    const heads = [...el.querySelectorAll("h4")].map((x) => x.textContent);
    expect(heads.indexOf("Usually fires on")).toBeGreaterThanOrEqual(0);
    expect(heads.indexOf("Usually fires on")).toBeLessThan(heads.indexOf("Top activating examples"));
    const items = [...el.querySelectorAll(".sw-freq")];
    expect(items.map((x) => x.textContent)).toEqual(["·Paris 92%", "↵ 5%"]); // a leading space shows as ·
    expect(items[0].getAttribute("title")).toBe('fired on " Paris" in 40 texts: 92% of the texts that contain it');
    // no profile (older dashboards, Gemma Scope examples): no section
    const { el: plain } = mount({});
    expect(plain.textContent).not.toContain("Usually fires on");
  });
});
