import { afterEach, describe, expect, it } from "vitest";
import { listRows, matchesFilter } from "../featureList";
import { render } from "../render";
import { rankedAt, readActData } from "../store";
import { FakeModel, activationState, asDataView, eiffelState } from "./fakeModel";

/** The Eiffel state with word ranks: at " Paris" (top 20: 6, 10: 2, 30: 1) feature 30 is its word's first, 10 second. */
function wordState(extra: Record<string, unknown> = {}) {
  const ranks = new Uint8Array(7 * 3);
  ranks.set([0, 2, 1], 6 * 3);
  return eiffelState({ word_ranks: asDataView(ranks), selected_feature: null, position: null, ...extra });
}

function mount(view: string, state: Record<string, unknown>) {
  const model = new FakeModel({ view, ...state });
  const el = document.createElement("div");
  document.body.appendChild(el);
  const cleanup = render({ model, el });
  const row = (id: number) => el.querySelector<HTMLElement>(`.sw-frow[data-feature-id="${id}"]`)!;
  const ids = () => [...el.querySelectorAll<HTMLElement>(".sw-frow")].filter((r) => !(r.parentElement as HTMLElement).hidden).map((r) => Number(r.dataset.featureId));
  return { model, el, cleanup, row, ids };
}

afterEach(() => document.body.replaceChildren());

describe("FeatureList", () => {
  it("lists the text's top features strongest first, BOS excluded", () => {
    const { el, row, ids } = mount("features", eiffelState({ selected_feature: null, position: null }));
    // 10: max 8, 20: max 6, 30: max 1 (its 50 on BOS does not count)
    expect(ids()).toEqual([10, 20, 30]);
    expect(row(10).getAttribute("role")).toBe("button");
    expect(row(10).tabIndex).toBe(0);
    expect(row(20).tabIndex).toBe(-1);
    expect(row(10).textContent).toContain("landmarks");
    expect(row(10).querySelector(".sw-fval")!.textContent).toBe("8");
    expect(row(30).querySelector(".sw-flabel")!.textContent).toBe("unlabelled");
    expect(row(10).querySelector("svg.sw-spark rect")).not.toBeNull();
    expect(el.textContent).toContain("Features that stand out in the text");
  });

  it("lists one token's features when a position is set", () => {
    const { model, el, ids } = mount("features", eiffelState({ selected_feature: null, position: null }));
    model.kernelSet({ position: 6 });
    expect(ids()).toEqual([20, 10, 30]);
    expect(el.textContent).toContain("Token 6 “·Paris”: its word's features, then the text's");
    el.querySelector<HTMLButtonElement>(".sw-whole")!.click();
    expect(model.get("position")).toBeNull();
    expect(ids()).toEqual([10, 20, 30]);
  });

  it("selects by click, Enter and Space", () => {
    const { model, row } = mount("features", eiffelState({ selected_feature: null, position: null }));
    row(20).click();
    expect(model.get("selected_feature")).toBe(20);
    expect(row(20).getAttribute("aria-pressed")).toBe("true");
    row(30).dispatchEvent(new KeyboardEvent("keydown", { key: "Enter", bubbles: true }));
    expect(model.get("selected_feature")).toBe(30);
    row(10).dispatchEvent(new KeyboardEvent("keydown", { key: " ", bubbles: true }));
    expect(model.get("selected_feature")).toBe(10);
    expect(row(20).getAttribute("aria-pressed")).toBe("false");
  });

  it("moves between rows with the arrow keys", () => {
    const { row } = mount("features", eiffelState({ selected_feature: null, position: null }));
    row(10).focus();
    const key = (k: string) => (document.activeElement as HTMLElement).dispatchEvent(new KeyboardEvent("keydown", { key: k, bubbles: true }));
    key("ArrowDown");
    expect(document.activeElement).toBe(row(20));
    key("End");
    expect(document.activeElement).toBe(row(30));
    key("ArrowUp");
    expect(document.activeElement).toBe(row(20));
    expect(row(20).tabIndex).toBe(0);
  });

  it("filters by id or label", () => {
    const { el, ids } = mount("features", eiffelState({ selected_feature: null, position: null }));
    const box = el.querySelector<HTMLInputElement>('input[type="search"]')!;
    expect(box.getAttribute("aria-label")).toMatch(/filter/i);
    const type = (q: string) => {
      box.value = q;
      box.dispatchEvent(new Event("input", { bubbles: true }));
    };
    type("2");
    expect(ids()).toEqual([20]);
    type("#3");
    expect(ids()).toEqual([30]);
    type("CITIES");
    expect(ids()).toEqual([20]);
    type("zzz");
    expect(ids()).toEqual([]);
    expect(el.textContent).toContain("No feature matches “zzz”");
    box.dispatchEvent(new KeyboardEvent("keydown", { key: "Escape", bubbles: true }));
    expect(ids()).toEqual([10, 20, 30]);
  });

  it("matches ids by prefix and labels by words", () => {
    expect(matchesFilter("", 5, undefined)).toBe(true);
    expect(matchesFilter("12", 123, "x")).toBe(true);
    expect(matchesFilter("#12", 312, "12 things")).toBe(false);
    expect(matchesFilter("cities french", 1, "French cities")).toBe(true);
    expect(matchesFilter("paris", 1, undefined)).toBe(false);
  });

  it("sends a feature to the kernel's steering hook when enabled", () => {
    const { model, el } = mount("features", eiffelState({ selected_feature: null, position: null, can_steer: false }));
    expect(el.querySelector(".sw-steer-btn")).toBeNull();
    model.kernelSet({ can_steer: true });
    el.querySelector<HTMLButtonElement>('.sw-steer-btn[data-steer-feature="20"]')!.click();
    expect(model.sentOfType("steer")).toEqual([{ type: "steer", feature: 20 }]);
  });

  it("lists what stands out in the kernel's order, the strongest one click away", () => {
    const base = eiffelState();
    const state = {
      ...activationState({
        tokens: base.tokens as string[],
        k: 3,
        top: [[[30, 50]], [[30, 1]], [[10, 4], [30, 1]], [[10, 8], [30, 1]], [[30, 1]], [[30, 1], [20, 0.5]], [[20, 6], [10, 2], [30, 1]]],
        columnIds: [30, 20, 10], // the kernel's standout order: the rare feature 30 first
      }),
      selected_feature: null,
      position: null,
    };
    const { model, el } = mount("features", state);
    const ids = () => [...el.querySelectorAll("[data-feature-id]")].map((r) => Number(r.getAttribute("data-feature-id")));
    expect(ids()).toEqual([30, 20, 10]);
    expect(el.querySelector(".sw-flist-title")!.textContent).toContain("stand out");
    el.querySelector<HTMLButtonElement>('[data-role="ranking"]')!.click();
    expect(model.get("ranking")).toBe("strongest");
    expect(ids()).toEqual([10, 20, 30]);
    el.querySelector<HTMLButtonElement>('[data-role="ranking"]')!.click();
    expect(ids()).toEqual([30, 20, 10]);
  });

  it("lists a clicked token's word's features first, marked, and the strongest one click away", () => {
    const { model, el, ids, row } = mount("features", wordState());
    model.kernelSet({ position: 6 });
    expect(ids()).toEqual([30, 10, 20]);
    expect(el.querySelector(".sw-flist-title")!.textContent).toBe("Token 6 “·Paris”: its word's features, then the text's");
    expect(row(30).querySelector(".sw-fid")!.classList.contains("sw-word")).toBe(true);
    expect(row(20).querySelector(".sw-fid")!.classList.contains("sw-word")).toBe(false);
    expect(row(10).getAttribute("aria-label")).toContain("a feature of this word");
    const toggle = el.querySelector<HTMLButtonElement>('[data-role="ranking"]')!;
    expect(toggle.hidden).toBe(false);
    expect(toggle.textContent).toBe("show strongest");
    toggle.click();
    expect(model.get("ranking")).toBe("strongest");
    expect(ids()).toEqual([20, 10, 30]);
    expect(el.querySelector(".sw-flist-title")!.textContent).toBe("Token 6 “·Paris”: strongest features");
    expect(row(30).querySelector(".sw-fid")!.classList.contains("sw-word")).toBe(false);
    expect(toggle.textContent).toBe("show its word's and the text's features first");
    toggle.click();
    expect(ids()).toEqual([30, 10, 20]);
  });

  it("puts the features that stand out in the text after the word's, marked apart", () => {
    const ranks = new Uint8Array(7 * 3);
    ranks.set([130, 0, 1], 6 * 3); // at " Paris": 20 stands out in the text, 30 is its word's, 10 neither
    const { model, ids, row } = mount("features", wordState({ word_ranks: asDataView(ranks) }));
    model.kernelSet({ position: 6 });
    expect(ids()).toEqual([30, 20, 10]);
    expect(row(30).querySelector(".sw-fid")!.className).toBe("sw-fid sw-word");
    expect(row(20).querySelector(".sw-fid")!.className).toBe("sw-fid sw-text");
    expect(row(20).querySelector(".sw-fid")!.getAttribute("title")).toBe("Stands out in the whole text");
    expect(row(20).getAttribute("aria-label")).toContain("stands out in this text");
    expect(row(10).querySelector(".sw-fid")!.className).toBe("sw-fid");
    const d = readActData(model);
    expect(rankedAt(d, 6, true).map((r) => [r.id, r.word, r.text])).toEqual([[30, true, false], [20, false, true], [10, false, false]]);
  });

  it("rankedAt orders by word rank then strength, and ignores ranks that do not fit the data", () => {
    const d = readActData(new FakeModel(wordState()));
    expect(rankedAt(d, 6, true)).toEqual([
      { id: 30, value: 1, word: true, text: false },
      { id: 10, value: 2, word: true, text: false },
      { id: 20, value: 6, word: false, text: false },
    ]);
    expect(rankedAt(d, 6, false).map((r) => r.id)).toEqual([20, 10, 30]);
    expect(rankedAt(d, 6, true, 1).map((r) => r.id)).toEqual([30]);
    expect(rankedAt(d, 5, true).map((r) => r.id)).toEqual([30, 20]); // no word features: strongest first
    expect(rankedAt(d, 99, true)).toEqual([]);
    const stale = readActData(new FakeModel(wordState({ word_ranks: asDataView(new Uint8Array(5)) })));
    expect(stale.wordRanks.length).toBe(0);
    expect(rankedAt(stale, 6, true).map((r) => r.id)).toEqual([20, 10, 30]);
  });

  it("listRows drops inactive features", () => {
    const d = readActData(new FakeModel(eiffelState()));
    expect(listRows(d, 1).map((r) => r.id)).toEqual([30]);
    expect(listRows(d, null).map((r) => r.value)).toEqual([8, 6, 1]);
    // "standout" keeps the kernel's order of the columns; "strongest" sorts by max activation
    const kernelOrder = listRows(d, null, "standout").map((r) => r.id);
    expect(kernelOrder).toEqual(d.columnIds.filter((id) => kernelOrder.includes(id)));
    expect(listRows(d, null, "strongest").map((r) => r.value)).toEqual([8, 6, 1]);
  });
});

describe("Explorer", () => {
  const state = () =>
    eiffelState({
      selected_feature: null,
      selected_token: null,
      steering: {},
      method: "add",
      max_new_tokens: 20,
      temperature: 0,
      seed: null,
      prompt: "The Eiffel Tower is in",
      baseline_text: "",
      steered_text: "",
      status: "",
      status_kind: "idle",
      generating: "",
      feature_max: {},
      dashboard: {},
      dashboard_values: new DataView(new ArrayBuffer(0)),
      auto_generate: false,
    });

  it("recolours the heatmap in the same event as a feature click (no kernel round trip)", () => {
    const { model, el, row } = mount("explorer", state());
    const tok3 = el.querySelector<HTMLElement>('[data-token-index="3"]')!;
    const tok6 = el.querySelector<HTMLElement>('[data-token-index="6"]')!;
    row(10).click();
    expect(tok3.getAttribute("data-h")).toBe("20");
    row(20).click();
    expect(tok6.getAttribute("data-h")).toBe("20");
    expect(tok3.getAttribute("data-h")).toBe("0");
    expect(model.sent.length).toBe(0); // nothing asked of the kernel: the columns were there
    expect(model.saved.map((s) => s.selected_feature)).toEqual([10, 20]);
  });

  it("a token click lists that token's features", () => {
    const { el, ids } = mount("explorer", state());
    el.querySelector<HTMLElement>('[data-token-index="6"]')!.click();
    expect(ids()).toEqual([20, 10, 30]);
  });

  it("the steer button adds a slider for the feature", () => {
    const { model, el } = mount("explorer", state());
    el.querySelector<HTMLButtonElement>('.sw-steer-btn[data-steer-feature="10"]')!.click();
    expect(model.get("steering")).toEqual({ "10": 0 });
    const slider = el.querySelector<HTMLInputElement>('input[type="range"][data-feature-id="10"]')!;
    expect(slider).not.toBeNull();
    expect(slider.getAttribute("aria-label")).toContain("landmarks");
    expect(document.activeElement).toBe(slider);
    // the range follows the feature's activity in the text (max 8 -> +/- 25)
    expect(Number(slider.max)).toBe(25);
    expect(Number(slider.min)).toBe(-25);
  });

  it("shows the selected feature's activity in the text before the dashboard arrives", () => {
    const { model, el, row } = mount("explorer", state());
    row(20).click();
    expect(el.textContent).toContain("Loading the dashboard of feature #20");
    expect(el.textContent).toContain("max 6");
    model.kernelSet({ dashboard: { feature: 20, status: "ok", label: "French cities", density: 0.01, max_activation: 9 } });
    expect(el.textContent).not.toContain("Loading the dashboard");
    expect(el.textContent).toContain("1.0% of tokens");
  });
});
