import { afterEach, describe, expect, it } from "vitest";
import { heatLevel, scaleMax } from "../colors";
import { CHUNK_TOKENS, buildTokens, chunkStarts, createHeatmap, estimateLines, fillLevels, recolor } from "../heatmap";
import { render } from "../render";
import { DATA_TRAITS } from "../store";
import { FakeModel, activationState, asDataView, eiffelState } from "./fakeModel";

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

  it("lists a token's features in the tooltip in the order a click lists them", () => {
    const ranks = new Uint8Array(7 * 3);
    ranks.set([0, 129, 1], 6 * 3); // at " Paris" feature 30 is its word's feature, 10 stands out in the text
    const { model, el, tok } = mount(eiffelState({ word_ranks: asDataView(ranks) }));
    const cells = () => [...el.querySelectorAll('[role="tooltip"] tr')].map((r) => r.firstElementChild!);
    const ids = () => cells().map((c) => c.textContent);
    tok(6).focus();
    expect(ids()).toEqual(["#30", "#10", "#20"]);
    expect(cells().map((c) => c.className)).toEqual(["sw-fid sw-word", "sw-fid sw-text", "sw-fid"]);
    tok(6).blur();
    model.kernelSet({ ranking: "strongest" });
    tok(6).focus();
    expect(ids()).toEqual(["#20", "#10", "#30"]);
    expect(cells().every((c) => c.className === "sw-fid")).toBe(true);
  });

  it("colours an unlisted feature from the top-k at once, then exactly when the kernel answers", () => {
    const state = eiffelState();
    state.column_ids = [10];
    state.columns = new DataView(new Float32Array([0, 0, 4, 8, 0, 0, 2]).buffer);
    const { model, el, tok } = mount(state);
    model.kernelSet({ feature: 20 });
    expect(model.sentOfType("column")).toEqual([{ type: "column", feature: 20, epoch: 0 }]);
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

  it("drops a column reply about the text before the latest change, and asks again", () => {
    const state = eiffelState({ column_ids: [], columns: new DataView(new ArrayBuffer(0)) });
    const { model, tok } = mount(state);
    model.kernelSet({ feature: 20 });
    expect(model.sentOfType("column")).toEqual([{ type: "column", feature: 20, epoch: 0 }]);
    expect(tok(3).getAttribute("data-h")).toBe("0");
    // the kernel swaps in a new text of the same length (its worker), then answers the old request from the old one
    const next = eiffelState({ column_ids: [], columns: new DataView(new ArrayBuffer(0)) });
    next.tokens = ["<bos>", "The", " Louvre", " Museum", " is", " in", " Paris"];
    model.kernelSet(next);
    expect(model.sentOfType("column")).toEqual([
      { type: "column", feature: 20, epoch: 0 },
      { type: "column", feature: 20, epoch: 1 },
    ]);
    model.kernelSend({ type: "column", feature: 20, epoch: 0, n_tokens: 7 }, [new DataView(new Float32Array([0, 9, 9, 9, 9, 9, 9]).buffer)]);
    expect(tok(1).getAttribute("data-h")).toBe("0"); // the stale values are not shown
    model.kernelSend({ type: "column", feature: 20, epoch: 1, n_tokens: 7 }, [new DataView(new Float32Array([0, 0, 0, 3, 0, 0.5, 6]).buffer)]);
    expect(tok(3).getAttribute("data-h")).not.toBe("0"); // the fresh column's small value at token 3 (not in the top-k)
    expect(tok(1).getAttribute("data-h")).toBe("0");
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

/** A long text: words, a sentence end every 9 tokens, a line break every `lineEvery` tokens (0: none). */
function longTokens(n: number, lineEvery: number): string[] {
  return Array.from({ length: n }, (_, i) =>
    i === 0 ? "<bos>" : lineEvery && i % lineEvery === 0 ? "\n" : i % 9 === 0 ? "." : ` w${i}`,
  );
}

/** A long activation state: `features` features, each lit on its own pattern of tokens (all exact columns). */
function longState(n: number, lineEvery: number, features = 3): Record<string, unknown> {
  const dense: Record<number, number[]> = {};
  for (let f = 1; f <= features; f++) {
    dense[f] = Array.from({ length: n }, (_, i) => (i % (f + 2) === 0 ? ((i * 7919 * f) % 101) / 10 : 0));
  }
  return activationState({
    tokens: longTokens(n, lineEvery),
    k: 1,
    top: Array.from({ length: n }, () => []),
    columnIds: Object.keys(dense).map(Number),
    dense,
  });
}

describe("TokenHeatmap chunks (long texts)", () => {
  it("cuts chunks after line breaks, between half and twice the target", () => {
    const tokens = longTokens(5000, 40);
    const starts = chunkStarts(tokens, 64);
    expect(starts[0]).toBe(0);
    for (let c = 1; c < starts.length; c++) {
      expect(starts[c]).toBeGreaterThan(starts[c - 1]);
      expect(tokens[starts[c] - 1]).toBe("\n"); // every cut follows a line break
      expect(starts[c] - starts[c - 1]).toBeGreaterThanOrEqual(32);
      expect(starts[c] - starts[c - 1]).toBeLessThanOrEqual(128);
    }
    expect(starts.at(-1)!).toBeLessThan(5000);
  });

  it("cuts a long stretch without line breaks after a sentence end, else before a space, else anywhere", () => {
    const prose = longTokens(3000, 0);
    const starts = chunkStarts(prose, 64);
    for (let c = 1; c < starts.length; c++) {
      expect(prose[starts[c] - 1]).toBe(".");
      expect(starts[c] - starts[c - 1]).toBeLessThanOrEqual(128);
      expect(starts[c] - starts[c - 1]).toBeGreaterThanOrEqual(32);
    }
    const words = Array.from({ length: 300 }, (_, i) => ` w${i}`);
    const wordStarts = chunkStarts(words, 64);
    expect(wordStarts).toEqual([0, 128, 256]); // a space before every token: cut at twice the target
    const noSpace = Array.from({ length: 300 }, () => "x");
    expect(chunkStarts(noSpace, 64)).toEqual([0, 128, 256]);
    expect(chunkStarts([], 64)).toEqual([]);
    expect(chunkStarts(["a", "\n", "b"], 64)).toEqual([0]);
  });

  it("puts every token in exactly one chunk, in order, with its line breaks", () => {
    const tokens = longTokens(2000, 30);
    const levels = new Uint8Array(2000).map((_, i) => i % 21);
    const { fragment, spans, chunks, starts, lines } = buildTokens(tokens, true, CHUNK_TOKENS, levels);
    const host = document.createElement("div");
    host.appendChild(fragment);
    expect(host.children.length).toBe(chunks.length);
    expect(chunks.length).toBe(starts.length);
    expect(chunks.length).toBeGreaterThan(3);
    const inOrder = [...host.querySelectorAll<HTMLElement>("[data-token-index]")];
    expect(inOrder.length).toBe(2000);
    inOrder.forEach((t, i) => {
      expect(t).toBe(spans[i]);
      expect(t.getAttribute("data-token-index")).toBe(String(i));
      expect(t.getAttribute("data-h")).toBe(String(levels[i]));
    });
    chunks.forEach((chunk, c) => {
      expect(chunk.getAttribute("role")).toBe("none");
      expect(chunk.classList.contains("sw-chunk")).toBe(true);
      expect(chunk.querySelector("[data-token-index]")).toBe(spans[starts[c]]);
    });
    // each line break stays right after its token, inside the same chunk
    expect(host.querySelectorAll("br").length).toBe(tokens.filter((t) => t === "\n").length);
    spans.forEach((s, i) => {
      if (tokens[i] === "\n") expect(s.nextElementSibling?.tagName).toBe("BR");
    });
    expect(spans[0].getAttribute("tabindex")).toBe("0");
    expect(host.querySelectorAll('[tabindex="0"]').length).toBe(1);
    // lines per chunk: 30 tokens per line, the chunk's last break makes no empty line
    expect(lines[0].length).toBe(Math.ceil((starts[1] - 1) / 30));
    expect(lines.flat().reduce((a, [, t]) => a + t, 0)).toBe(2000);
  });

  it("estimates a chunk's height from its lines and the box's width", () => {
    expect(estimateLines([[0, 0]], 80)).toBe(1); // an empty line still takes one
    expect(estimateLines([[79, 20]], 80)).toBe(2); // tokens do not break: a full line loses half a token
    expect(estimateLines([[40, 10], [400, 100]], 80)).toBe(1 + 6);
    expect(estimateLines([[400, 100]], 0)).toBeGreaterThan(1); // no width yet: still finite
  });

  it("writes every token's exact heat level on every recolour of a long text", () => {
    const n = 5000;
    const state = longState(n, 37);
    const { model, el } = mount(state);
    const toks = [...el.querySelectorAll<HTMLElement>("[data-token-index]")];
    expect(toks.length).toBe(n);
    expect(el.querySelectorAll(".sw-chunk").length).toBeGreaterThan(10);
    const columns = new Float32Array((state.columns as DataView).buffer);
    const check = (f: number | null): void => {
      const values = f === null ? null : columns.subarray((f - 1) * n, f * n);
      const max = values ? scaleMax(values, true) : 0;
      const wrong = toks.filter((t, i) => t.getAttribute("data-h") !== String(values && i > 0 ? heatLevel(values[i], max) : 0));
      expect(wrong.length).toBe(0);
    };
    for (const f of [1, 2, 3, null, 2, 1]) {
      model.kernelSet({ feature: f });
      check(f);
    }
    // a new text (as an edit makes) is built with the shown feature's levels in place
    model.kernelSet({ feature: 3 });
    const next = longState(n + 123, 11);
    model.kernelSet(next);
    const rebuilt = [...el.querySelectorAll<HTMLElement>("[data-token-index]")];
    expect(rebuilt.length).toBe(n + 123);
    const col3 = new Float32Array((next.columns as DataView).buffer).subarray(2 * (n + 123), 3 * (n + 123));
    const max = scaleMax(col3, true);
    const levels = new Uint8Array(n + 123);
    expect(fillLevels(levels, col3, true)).toBe(max);
    expect(rebuilt.filter((t, i) => t.getAttribute("data-h") !== String(levels[i])).length).toBe(0);
    expect(levels.some((l) => l > 0)).toBe(true);
  }, 30_000); // a long text: seconds on a loaded 2-core machine

  it("builds once for an update of several data traits, and again when one of them changes", () => {
    const { model, tok } = mount(eiffelState());
    const next = longState(600, 50);
    model.kernelSet(next); // tokens, n_tokens, k, top_ids, top_values, column_ids, columns change together
    const first = tok(0);
    expect(first).not.toBeNull();
    model.emit("change:columns", model, model.get("columns")); // an echo of a trait that did not change
    expect(tok(0)).toBe(first);
    const edited = [...(next.tokens as string[])];
    edited[5] = " edited";
    model.kernelSet({ tokens: edited }); // one trait changes: a new build
    expect(tok(0)).not.toBe(first);
    expect(tok(5).textContent).toBe("·edited");
    expect(tok(599)).not.toBeNull();
  });

  it("keeps the selection, focus moves and tooltips working across chunks", () => {
    const { model, el, tok } = mount(longState(1500, 0));
    model.kernelSet({ selected_token: 1400 });
    expect(tok(1400).getAttribute("aria-selected")).toBe("true");
    expect(tok(1400).getAttribute("tabindex")).toBe("0");
    expect(tok(1400).closest(".sw-chunk")).not.toBe(tok(0).closest(".sw-chunk"));
    tok(1400).click();
    expect(model.get("selected_token")).toBeNull();
    const chunk0 = tok(0).closest(".sw-chunk")!;
    const lastOf0 = chunk0.querySelectorAll<HTMLElement>("[data-token-index]");
    const edge = lastOf0[lastOf0.length - 1];
    const i = Number(edge.getAttribute("data-token-index"));
    edge.focus();
    edge.dispatchEvent(new KeyboardEvent("keydown", { key: "ArrowRight", bubbles: true }));
    expect(document.activeElement).toBe(tok(i + 1)); // into the next chunk
    expect(tok(i + 1).closest(".sw-chunk")).not.toBe(chunk0);
    expect(el.querySelector<HTMLElement>('[role="tooltip"]')!.hidden).toBe(false);
    expect(el.querySelectorAll('[tabindex="0"]').length).toBe(1);
  });
});
