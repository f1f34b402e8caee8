import { afterEach, describe, expect, it } from "vitest";
import { buildTokens, createHeatmap, recolor } from "../heatmap";
import { render } from "../render";
import { DATA_TRAITS } from "../store";
import { FakeModel, activationState, eiffelState } from "./fakeModel";

function mount(state: Record<string, unknown>) {
  const model = new FakeModel({ view: "heatmap", feature: null, selected_token: null, ...state });
  const el = document.createElement("div");
  document.body.appendChild(el);
  const cleanup = render({ model, el });
  const tok = (i: number) => el.querySelector<HTMLElement>(`[data-token-index="${i}"]`)!;
  return { model, el, cleanup, tok };
}

afterEach(() => {
  document.body.replaceChildren();
});

describe("TokenHeatmap", () => {
  it("renders one focusable element per token with data-token-index", () => {
    const { el } = mount(eiffelState());
    const toks = el.querySelectorAll<HTMLElement>("[data-token-index]");
    expect(toks.length).toBe(7);
    toks.forEach((t, i) => {
      expect(t.getAttribute("data-token-index")).toBe(String(i));
      expect(t.tabIndex === 0 || t.tabIndex === -1).toBe(true);
      expect(t.getAttribute("role")).toBe("option");
    });
    expect(el.querySelectorAll('[data-token-index][tabindex="0"]').length).toBe(1);
    expect(el.querySelector("[data-lm-suppress-shortcuts]")).not.toBeNull();
  });

  it("shows model text as text: no element is created from a token", () => {
    const evil = "<img src=x onerror=alert(1)>";
    const { el, tok } = mount(
      activationState({ tokens: ["<bos>", evil, "<script>alert(2)</script>"], k: 1, top: [[], [[1, 1]], []] }),
    );
    expect(el.querySelector("img")).toBeNull();
    expect(el.querySelector("script")).toBeNull();
    expect(tok(1).textContent).toBe("<img·src=x·onerror=alert(1)>");
    expect(tok(2).textContent).toBe("<script>alert(2)</script>");
  });

  it("keeps whitespace visible and line breaks real", () => {
    const { el, tok } = mount(activationState({ tokens: ["a", " b", "\n", "c"], k: 1, top: [[], [], [], []], hasBos: false }));
    expect(tok(1).querySelector(".sw-ws")!.textContent).toBe("·");
    expect(tok(2).textContent).toBe("↵");
    expect(tok(2).nextElementSibling!.tagName).toBe("BR");
    expect(el.querySelectorAll("br").length).toBe(1);
  });

  it("colours by the selected feature with BOS excluded from the scale", () => {
    const { model, el, tok } = mount(eiffelState());
    expect(tok(3).getAttribute("data-h")).toBe("0");
    model.kernelSet({ feature: 10 });
    // feature 10: 0, 0, 4, 8, 0, 0, 2 -> max 8
    expect(tok(3).getAttribute("data-h")).toBe("20");
    expect(tok(2).getAttribute("data-h")).toBe("10");
    expect(tok(6).getAttribute("data-h")).toBe("5");
    expect(tok(1).getAttribute("data-h")).toBe("0");
    // feature 30 is 50 on BOS and 1 elsewhere: BOS stays uncoloured, the rest is full
    model.kernelSet({ feature: 30 });
    expect(tok(0).getAttribute("data-h")).toBe("0");
    expect(tok(1).getAttribute("data-h")).toBe("20");
    expect(el.textContent).toContain("Feature #30");
    expect(el.textContent).toContain("BOS excluded");
  });

  it("selects a token by click, Enter and Space, and toggles off", () => {
    const { model, tok } = mount(eiffelState());
    tok(3).click();
    expect(model.get("selected_token")).toBe(3);
    expect(model.saved.at(-1)).toEqual({ selected_token: 3 });
    expect(tok(3).getAttribute("aria-selected")).toBe("true");
    tok(3).click();
    expect(model.get("selected_token")).toBeNull();
    tok(5).dispatchEvent(new KeyboardEvent("keydown", { key: "Enter", bubbles: true }));
    expect(model.get("selected_token")).toBe(5);
    tok(2).dispatchEvent(new KeyboardEvent("keydown", { key: " ", bubbles: true }));
    expect(model.get("selected_token")).toBe(2);
    expect(tok(5).getAttribute("aria-selected")).toBe("false");
    tok(2).dispatchEvent(new KeyboardEvent("keydown", { key: "Escape", bubbles: true }));
    expect(model.get("selected_token")).toBeNull();
  });

  it("follows selected_token set by the kernel", () => {
    const { model, tok } = mount(eiffelState());
    model.kernelSet({ selected_token: 4 });
    expect(tok(4).getAttribute("aria-selected")).toBe("true");
    expect(tok(4).getAttribute("tabindex")).toBe("0");
  });

  it("moves focus with the arrow keys, Home and End (roving tabindex)", () => {
    const { tok } = mount(eiffelState());
    tok(0).focus();
    const key = (k: string) => (document.activeElement as HTMLElement).dispatchEvent(new KeyboardEvent("keydown", { key: k, bubbles: true }));
    key("ArrowRight");
    expect(document.activeElement).toBe(tok(1));
    key("ArrowRight");
    key("ArrowLeft");
    expect(document.activeElement).toBe(tok(1));
    key("End");
    expect(document.activeElement).toBe(tok(6));
    key("ArrowRight");
    expect(document.activeElement).toBe(tok(6));
    key("Home");
    expect(document.activeElement).toBe(tok(0));
    key("ArrowDown"); // no layout in the test DOM: falls back to the next token
    expect(document.activeElement).toBe(tok(1));
    expect(tok(1).getAttribute("tabindex")).toBe("0");
    expect(tok(0).getAttribute("tabindex")).toBe("-1");
  });

  it("shows the token's top features in a tooltip on focus", () => {
    const { el, tok } = mount(eiffelState());
    tok(6).focus();
    const tip = el.querySelector<HTMLElement>('[role="tooltip"]')!;
    expect(tip.hidden).toBe(false);
    expect(tip.textContent).toContain("Paris");
    expect(tip.textContent).toContain("#20");
    expect(tip.textContent).toContain("French cities");
    expect(tok(6).getAttribute("aria-describedby")).toBe(tip.id);
    tok(6).blur();
    expect(tip.hidden).toBe(true);
  });

  it("colours an unlisted feature from the top-k at once, then exactly when the kernel answers", () => {
    const state = eiffelState();
    state.column_ids = [10];
    state.columns = new DataView(new Float32Array([0, 0, 4, 8, 0, 0, 2]).buffer);
    const { model, el, tok } = mount(state);
    model.kernelSet({ feature: 20 });
    expect(model.sentOfType("column")).toEqual([{ type: "column", feature: 20 }]);
    expect(tok(6).getAttribute("data-h")).toBe("20");
    expect(tok(3).getAttribute("data-h")).toBe("0");
    expect(el.textContent).toContain("exact loading");
    // the exact column has a small value at token 3 that the top-k did not hold
    model.kernelSend({ type: "column", feature: 20, n_tokens: 7 }, [new DataView(new Float32Array([0, 0, 0, 3, 0, 0.5, 6]).buffer)]);
    expect(tok(3).getAttribute("data-h")).toBe("10");
    expect(el.textContent).not.toContain("exact loading");
    // asked once only
    model.kernelSet({ feature: 10 });
    model.kernelSet({ feature: 20 });
    expect(model.sentOfType("column").length).toBe(1);
  });

  it("reports a failed column request and keeps the top-k colours", () => {
    const { model, el, tok } = mount({ ...eiffelState(), column_ids: [], columns: new DataView(new ArrayBuffer(0)) });
    model.kernelSet({ feature: 20 });
    model.kernelSend({ type: "column", feature: 20, error: "no SAE inputs stored" });
    expect(el.textContent).toContain("no SAE inputs stored");
    expect(tok(6).getAttribute("data-h")).toBe("20");
  });

  it("rebuilds when the kernel sends new activations", () => {
    const { model, el } = mount(eiffelState());
    model.kernelSet(activationState({ tokens: ["<bos>", "x"], k: 1, top: [[], [[1, 2]]] }));
    expect(el.querySelectorAll("[data-token-index]").length).toBe(2);
  });

  it("says what is wrong with inconsistent data instead of throwing", () => {
    const state = eiffelState();
    state.top_ids = new DataView(new ArrayBuffer(8));
    const { el } = mount(state);
    expect(el.querySelector(".sw-error")!.textContent).toMatch(/expected 7 x 3/);
  });

  it("removes every listener on cleanup", () => {
    const { model, cleanup } = mount(eiffelState());
    const before = model.listenerCount();
    expect(before).toBeGreaterThan(0);
    cleanup();
    // only the per-model store's own listeners (data traits, messages) remain
    expect(model.listenerCount()).toBe(DATA_TRAITS.length + 1);
  });

  it("recolours 2,000 tokens by writing only changed levels", () => {
    const n = 2000;
    const tokens = Array.from({ length: n }, (_, i) => (i % 7 === 0 ? "\n" : ` w${i}`));
    const { spans, fragment } = buildTokens(tokens, true);
    const host = document.createElement("div");
    host.appendChild(fragment);
    document.body.appendChild(host);
    const levels = new Uint8Array(n);
    const a = Float32Array.from({ length: n }, (_, i) => (i % 3 === 0 ? i / n : 0));
    const b = Float32Array.from({ length: n }, (_, i) => (i % 5 === 0 ? 1 - i / n : 0));
    recolor(spans, levels, a, true);
    const t0 = performance.now();
    const rounds = 10;
    for (let r = 0; r < rounds; r++) recolor(spans, levels, r % 2 ? a : b, true);
    const ms = (performance.now() - t0) / rounds;
    // happy-dom is far slower than a browser; the browser figure is measured separately
    expect(ms).toBeLessThan(50);
    expect(spans[3].getAttribute("data-h")).toBe(String(levels[3]));
  });

  it("can be created directly on a model without the entry point", () => {
    const model = new FakeModel(eiffelState({ f: 10, t: null }));
    const view = createHeatmap(model, { featureTrait: "f", tokenTrait: "t" });
    expect(view.el.querySelector('[data-token-index="3"]')!.getAttribute("data-h")).toBe("20");
    view.destroy();
  });
});
