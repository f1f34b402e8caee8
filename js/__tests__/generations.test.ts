import { afterEach, describe, expect, it } from "vitest";
import { firstDivergence } from "../generations";
import { asDataView, mountView } from "./fakeModel";

function state(extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    view: "steering", prompt: "Once upon a time", coefficients: { "12": 5 }, method: "add", max_new_tokens: 4,
    temperature: 0, seed: null, status: "done", status_kind: "done", generating: "", labels: {}, feature_max: {},
    auto_generate: false,
    baseline_text: " there was a king", baseline_pieces: [" there", " was", " a", " king"],
    baseline_probs: asDataView(new Float32Array([0.9, 0.8, 0.6, 0.2])),
    steered_text: " there was a dragon", steered_pieces: [" there", " was", " a", " dragon"],
    steered_probs: asDataView(new Float32Array([0.9, 0.7, 0.5, 0.05])),
    ...extra,
  };
}

function mount(extra: Record<string, unknown> = {}) {
  const m = mountView(state(extra));
  const toks = (side: string) => [...m.el.querySelectorAll<HTMLElement>(`[data-role=${side}-text] [data-role=gen-token]`)];
  return { ...m, toks };
}

afterEach(() => document.body.replaceChildren());

describe("generated tokens", () => {
  it("finds where two generations part", () => {
    expect(firstDivergence(["a", "b"], ["a", "c"])).toBe(1);
    expect(firstDivergence(["a", "b"], ["a", "b"])).toBe(-1);
    expect(firstDivergence(["a"], ["a", "b"])).toBe(1);
    expect(firstDivergence([], [])).toBe(-1);
  });

  it("draws each token with its probability on hover, and marks the divergence on both sides", () => {
    const { el, toks } = mount();
    const steered = toks("steered");
    expect(steered.map((t) => t.textContent)).toEqual([" there", " was", " a", " dragon"]);
    expect(steered[3].getAttribute("data-p")).toBe("5");
    expect(steered[3].title).toBe("“·dragon”: p = 5.0%");
    expect(steered[3].style.getPropertyValue("--sw-u")).toBe("0.950");
    expect(steered[3].hasAttribute("data-diverge")).toBe(true);
    expect(toks("baseline")[3].hasAttribute("data-diverge")).toBe(true);
    expect(toks("baseline")[2].hasAttribute("data-diverge")).toBe(false);
    expect(el.querySelector("[data-role=steered-text]")!.textContent).toBe(" there was a dragon");
    expect(el.querySelector("[data-role=divergence]")!.textContent).toBe("They part at token 4: “·king” (20.0%) vs “·dragon” (5.0%).");
  });

  it("underlines by uncertainty only when asked", () => {
    const { el } = mount();
    const box = el.querySelector<HTMLInputElement>("[data-role=show-probs]")!;
    expect(el.querySelector(".sw-show-probs")).toBeNull();
    box.checked = true;
    box.dispatchEvent(new Event("change"));
    expect(el.querySelector(".sw-show-probs")).not.toBeNull();
  });

  it("draws plain text while the pieces do not add up (streaming, or a scope without tokens)", () => {
    const { model, el, toks } = mount({ status_kind: "running", generating: "steered" });
    expect(el.querySelector("[data-role=divergence]")!.textContent).toBe(""); // not while running
    model.kernelSet({ steered_text: " there was a dragon who" });
    expect(toks("steered")).toEqual([]);
    expect(el.querySelector("[data-role=steered-text]")!.textContent).toBe(" there was a dragon who");
    model.kernelSet({ steered_pieces: [], steered_probs: null, steered_text: "plain" });
    expect(el.querySelector("[data-role=steered-text]")!.textContent).toBe("plain");
  });

  it("says so when steering changed nothing", () => {
    const { el } = mount({ steered_text: " there was a king", steered_pieces: [" there", " was", " a", " king"],
      steered_probs: asDataView(new Float32Array([0.9, 0.8, 0.6, 0.2])) });
    expect(el.querySelector("[data-role=divergence]")!.textContent).toContain("token for token");
    expect(el.querySelector("[data-diverge]")).toBeNull();
  });

  it("shows token text as text, never as markup", () => {
    const { el } = mount({ steered_text: "<img src=x onerror=alert(1)>", steered_pieces: ["<img src=x", " onerror=alert(1)>"],
      steered_probs: asDataView(new Float32Array([0.5, 0.5])) });
    expect(el.querySelector("img")).toBeNull();
    expect(el.querySelector("[data-role=steered-text]")!.textContent).toBe("<img src=x onerror=alert(1)>");
  });
});
