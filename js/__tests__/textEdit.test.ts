import { afterEach, describe, expect, it, vi } from "vitest";
import { render } from "../render";
import { DATA_TRAITS } from "../store";
import { DEBOUNCE_MS } from "../textEdit";
import { FakeModel, activationState, eiffelState } from "./fakeModel";

const TEXT = "The Eiffel Tower is in Paris";

function mount() {
  const model = new FakeModel({
    view: "explorer", ...eiffelState(), text: TEXT, analysed_text: TEXT, text_error: "",
    selected_feature: null, selected_token: null, steering: {}, dashboard: {}, coefficients: {},
  });
  const el = document.createElement("div");
  document.body.appendChild(el);
  const cleanup = render({ model, el });
  const q = <T extends HTMLElement>(s: string) => el.querySelector<T>(s)!;
  const area = q<HTMLTextAreaElement>("[data-role=explorer-text]");
  const type = (value: string) => {
    area.value = value;
    area.dispatchEvent(new Event("input", { bubbles: true }));
  };
  return { model, el, cleanup, q, area, type };
}

afterEach(() => {
  vi.useRealTimers();
  document.body.replaceChildren();
});

describe("Explorer: type and see", () => {
  it("opens an editor on the text and sends only the text typing stopped at", () => {
    vi.useFakeTimers();
    const { model, q, area, type } = mount();
    expect(area.hidden).toBe(true);
    q<HTMLButtonElement>("[data-role=edit-text]").click();
    expect(area.hidden).toBe(false);
    expect(q("[data-role=edit-text]").getAttribute("aria-expanded")).toBe("true");
    expect(area.value).toBe(TEXT);
    type("The Eiffel Tower is in Rome");
    vi.advanceTimersByTime(DEBOUNCE_MS / 2);
    type("The Eiffel Tower is in Rome!");
    expect(model.saved.filter((s) => "text" in s)).toEqual([]); // nothing yet: still typing
    expect(q("[data-role=text-status]").textContent).toBe("reading…");
    vi.advanceTimersByTime(DEBOUNCE_MS);
    expect(model.saved.filter((s) => "text" in s)).toEqual([{ text: "The Eiffel Tower is in Rome!" }]); // one request
  });

  it("shows when the heatmap has caught up, and the kernel's error when it could not read the text", () => {
    vi.useFakeTimers();
    const { model, q, type } = mount();
    q<HTMLButtonElement>("[data-role=edit-text]").click();
    type("Rome");
    vi.advanceTimersByTime(DEBOUNCE_MS);
    const tokens = ["<bos>", "Rome"];
    model.kernelSet({ ...activationState({ tokens, k: 1, top: [[[30, 5]], [[20, 3]]], columnIds: [20] }), analysed_text: "Rome" });
    expect(q("[data-role=text-status]").textContent).toBe("up to date");
    expect(q('[data-token-index="1"]').textContent).toBe("Rome"); // the heatmap followed
    type("   ");
    vi.advanceTimersByTime(DEBOUNCE_MS);
    model.kernelSet({ text_error: "text is empty (or only whitespace)" });
    expect(q("[data-role=text-status]").textContent).toContain("cannot read this text: text is empty");
    expect(q("[data-role=text-status]").getAttribute("data-kind")).toBe("error");
  });

  it("follows a text set from code while not typing, and cleans up", () => {
    const { model, area, cleanup } = mount();
    model.kernelSet({ text: "Set from Python" });
    expect(area.value).toBe("Set from Python");
    cleanup();
    expect(model.listenerCount()).toBe(DATA_TRAITS.length + 1); // only the model's shared store remains
  });
});
