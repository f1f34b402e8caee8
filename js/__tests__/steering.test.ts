import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { render } from "../render";
import { niceCeil, sliderRange, steeringSummary } from "../steering";
import { FakeModel } from "./fakeModel";

function panelState(extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    view: "steering",
    prompt: "Once upon a time",
    coefficients: { "12": 0, "40": 2.5 },
    method: "add",
    max_new_tokens: 40,
    temperature: 0,
    seed: null,
    baseline_text: "",
    steered_text: "",
    status: "",
    status_kind: "idle",
    generating: "",
    labels: { "12": "dragons" },
    feature_max: { "12": 4, "40": 10 },
    auto_generate: false,
    ...extra,
  };
}

function mount(state: Record<string, unknown>) {
  const model = new FakeModel(state);
  const el = document.createElement("div");
  document.body.appendChild(el);
  const cleanup = render({ model, el });
  const slider = (id: number) => el.querySelector<HTMLInputElement>(`input[type="range"][data-feature-id="${id}"]`)!;
  const number = (id: number) => el.querySelector<HTMLInputElement>(`input[type="number"][data-coef-feature="${id}"]`)!;
  return { model, el, cleanup, slider, number };
}

function drag(input: HTMLInputElement, value: number) {
  input.value = String(value);
  input.dispatchEvent(new Event("input", { bubbles: true }));
}

beforeEach(() => vi.useFakeTimers());
afterEach(() => {
  vi.useRealTimers();
  document.body.replaceChildren();
});

describe("SteeringPanel", () => {
  it("has one native range slider per feature with data-feature-id and an aria-label naming it", () => {
    const { el, slider, number } = mount(panelState());
    const sliders = el.querySelectorAll('input[type="range"]');
    expect(sliders.length).toBe(2);
    // only the sliders carry data-feature-id (feature rows are found by it too)
    expect([...el.querySelectorAll("[data-feature-id]")].every((e) => e.matches('input[type="range"]'))).toBe(true);
    expect(slider(12).getAttribute("aria-label")).toBe("Steering coefficient for feature 12 (dragons)");
    expect(slider(40).getAttribute("aria-label")).toBe("Steering coefficient for feature 40");
    // range from the typical max: 4 -> +/- 12.. rounded up to 20; 10 -> +/- 50
    expect([Number(slider(12).min), Number(slider(12).max)]).toEqual([-20, 20]);
    expect([Number(slider(40).min), Number(slider(40).max)]).toEqual([-50, 50]);
    expect(Number(slider(40).value)).toBe(2.5);
    expect(number(40).value).toBe("2.5");
    expect(el.querySelector('[data-role="baseline-text"]')).not.toBeNull();
    expect(el.querySelector('[data-role="steered-text"]')).not.toBeNull();
  });

  it("debounces slider input: one update 250 ms after the last input event", () => {
    const { model, slider, number } = mount(panelState());
    drag(slider(12), 3);
    vi.advanceTimersByTime(100);
    drag(slider(12), 5);
    vi.advanceTimersByTime(100);
    drag(slider(12), 7);
    expect(number(12).value).toBe("7"); // the number follows at once
    vi.advanceTimersByTime(249);
    expect(model.saves).toBe(0);
    vi.advanceTimersByTime(1);
    expect(model.saves).toBe(1);
    expect(model.get("coefficients")).toEqual({ "12": 7, "40": 2.5 });
    vi.advanceTimersByTime(1000);
    expect(model.saves).toBe(1);
  });

  it("sends at once when the slider is released", () => {
    const { model, slider } = mount(panelState());
    drag(slider(12), 3);
    slider(12).dispatchEvent(new Event("change", { bubbles: true }));
    expect(model.saves).toBe(1);
    expect(model.get("coefficients")).toEqual({ "12": 3, "40": 2.5 });
    vi.advanceTimersByTime(500);
    expect(model.saves).toBe(1);
  });

  it("takes typed numbers beyond the slider range and widens it", () => {
    const { model, slider, number } = mount(panelState());
    number(12).value = "120";
    number(12).dispatchEvent(new Event("change", { bubbles: true }));
    expect(model.get("coefficients")).toEqual({ "12": 120, "40": 2.5 });
    expect(Number(slider(12).max)).toBeGreaterThanOrEqual(120);
    expect(Number(slider(12).value)).toBe(120);
  });

  it("follows coefficients set from Python, but not over a value the user is moving", () => {
    const { model, slider } = mount(panelState());
    model.kernelSet({ coefficients: { "12": -4, "40": 2.5 } });
    expect(Number(slider(12).value)).toBe(-4);
    drag(slider(40), 9);
    model.kernelSet({ coefficients: { "12": 1, "40": 2.5 } });
    expect(Number(slider(40).value)).toBe(9);
    expect(Number(slider(12).value)).toBe(1);
    vi.advanceTimersByTime(300);
    expect(model.get("coefficients")).toEqual({ "12": 1, "40": 9 });
    model.kernelSet({ coefficients: { "7": 1 } });
    expect(slider(12)).toBeNull();
    expect(slider(7)).not.toBeNull();
  });

  it("says how to add features when there are none", () => {
    const { el } = mount(panelState({ coefficients: {} }));
    expect(el.querySelectorAll('input[type="range"]').length).toBe(0);
    expect(el.querySelector(".sw-sliders")!.textContent).toContain("No features to steer");
  });

  it("removes a feature", () => {
    const { model, el } = mount(panelState());
    el.querySelector<HTMLButtonElement>('[data-remove-feature="12"]')!.click();
    expect(model.get("coefficients")).toEqual({ "40": 2.5 });
    expect(el.querySelectorAll('input[type="range"]').length).toBe(1);
  });

  it("commits method, max tokens, temperature and seed", () => {
    const { model, el } = mount(panelState());
    const method = el.querySelector<HTMLSelectElement>('select[aria-label="Steering method"]')!;
    method.value = "clamp";
    method.dispatchEvent(new Event("change", { bubbles: true }));
    expect(model.get("method")).toBe("clamp");
    const set = (label: string, v: string) => {
      const input = el.querySelector<HTMLInputElement>(`input[aria-label^="${label}"]`)!;
      input.value = v;
      input.dispatchEvent(new Event("change", { bubbles: true }));
    };
    set("Maximum new tokens", "12");
    set("Temperature", "0.7");
    set("Seed", "42");
    expect([model.get("max_new_tokens"), model.get("temperature"), model.get("seed")]).toEqual([12, 0.7, 42]);
    set("Seed", "");
    expect(model.get("seed")).toBeNull();
    set("Maximum new tokens", "-3");
    expect(model.get("max_new_tokens")).toBe(12);
    const penalty = el.querySelector<HTMLInputElement>('input[aria-label="Repetition penalty"]')!;
    expect(penalty.value).toBe("1.1"); // the kernel's default, shown before anything is set
    set("Repetition penalty", "1.3");
    expect(model.get("repetition_penalty")).toBe(1.3);
    set("Repetition penalty", "0.5"); // below 1 would reward repeats: refused, the box shows the value again
    expect(model.get("repetition_penalty")).toBe(1.3);
    expect(penalty.value).toBe("1.3");
    expect(el.querySelector("h4:nth-of-type(1)")).not.toBeNull();
    expect(el.textContent).toContain("Steered (clamp #40 =2.5)");
  });

  it("streams generated text into the data-role elements, as text", () => {
    const { model, el } = mount(panelState());
    const steered = el.querySelector<HTMLElement>('[data-role="steered-text"]')!;
    const baseline = el.querySelector<HTMLElement>('[data-role="baseline-text"]')!;
    model.kernelSet({ baseline_text: " there was", status_kind: "running", generating: "steered", status: "generating steered… 1 tokens" });
    model.kernelSet({ steered_text: " a <img src=x onerror=alert(1)>" });
    expect(baseline.textContent).toBe(" there was");
    expect(steered.textContent).toBe(" a <img src=x onerror=alert(1)>");
    expect(el.querySelector("img")).toBeNull();
    expect(steered.closest(".sw-gen")!.classList.contains("sw-running")).toBe(true);
    expect(el.querySelector(".sw-status")!.textContent).toContain("generating steered");
    model.kernelSet({ status_kind: "error", status: "error: ValueError: bad feature" });
    expect(el.querySelector(".sw-status")!.getAttribute("data-kind")).toBe("error");
    expect(el.querySelector('[role="status"]')!.textContent).toContain("bad feature");
  });

  it("asks the kernel to generate and to stop", () => {
    const { model, el } = mount(panelState());
    const button = (text: string) => [...el.querySelectorAll("button")].find((b) => b.textContent === text)!;
    button("Generate").click();
    expect(model.sentOfType("generate")).toEqual([{ type: "generate", force: true }]);
    model.kernelSet({ status_kind: "running" });
    expect(button("Stop").disabled).toBe(false);
    button("Stop").click();
    expect(model.sentOfType("stop").length).toBe(1);
  });

  it("commits the prompt and generates on Ctrl+Enter", () => {
    const { model, el } = mount(panelState());
    const prompt = el.querySelector<HTMLTextAreaElement>('textarea[aria-label="Prompt"]')!;
    prompt.value = "In a galaxy";
    prompt.dispatchEvent(new KeyboardEvent("keydown", { key: "Enter", ctrlKey: true, bubbles: true }));
    expect(model.get("prompt")).toBe("In a galaxy");
    expect(model.sentOfType("generate").length).toBe(1);
  });

  it("asks for the baseline on first display when auto_generate is set", () => {
    const { model } = mount(panelState({ auto_generate: true }));
    expect(model.sentOfType("generate")).toEqual([{ type: "generate", force: false }]);
    const again = mount(panelState({ auto_generate: true, baseline_text: "done already" }));
    expect(again.model.sentOfType("generate")).toEqual([]);
  });

  it("flushes a pending value when the view goes away", () => {
    const { model, slider, cleanup } = mount(panelState());
    drag(slider(12), 6);
    cleanup();
    expect(model.get("coefficients")).toEqual({ "12": 6, "40": 2.5 });
  });
});

describe("steering helpers", () => {
  it("rounds slider limits to nice numbers", () => {
    expect(niceCeil(12)).toBe(20);
    expect(niceCeil(2.1)).toBe(2.5);
    expect(niceCeil(30)).toBe(50);
    expect(niceCeil(100)).toBe(100);
    expect(niceCeil(0)).toBe(1);
    // the same table as tests/test_widgets_steering.py::test_nice_ceil_matches_the_front_end_table
    expect([0, 0.7, 1, 1.2, 2.2, 3, 7, 12, 260].map(niceCeil)).toEqual([1, 1, 1, 2, 2.5, 5, 10, 20, 500]);
    expect(sliderRange(null)).toEqual({ min: -10, max: 10, step: 0.05 });
    expect(sliderRange(2, 100).max).toBe(100);
  });
  it("summarises the active steering", () => {
    const c = new Map([
      [1, 0],
      [2, 8],
    ]);
    expect(steeringSummary(c, "add")).toBe("add #2 ×8");
    expect(steeringSummary(c, "ablate")).toBe("ablate #2");
    expect(steeringSummary(new Map([[1, 0]]), "add")).toBe("no steering");
  });
});
