import { afterEach, describe, expect, it } from "vitest";
import { mountView } from "./fakeModel";

function state(extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    view: "steering", prompt: "", coefficients: { "12": 5 }, method: "add", max_new_tokens: 8, temperature: 0,
    seed: null, status: "done", status_kind: "done", generating: "", labels: {}, feature_max: {}, auto_generate: false,
    baseline_text: "Fine.", steered_text: "Dragons!", steer_template: false,
    chat: [
      { role: "user", content: "Hello <b>there</b>" },
      { role: "assistant", baseline: "Hi.", steered: "Hi, dragon." },
      { role: "user", content: "How are you?" },
    ],
    ...extra,
  };
}

function mount(extra: Record<string, unknown> = {}) {
  return mountView(state(extra));
}

afterEach(() => document.body.replaceChildren());

describe("steering chat", () => {
  it("shows the conversation, each earlier reply baseline beside steered, and hides the plain prompt", () => {
    const { el, q } = mount();
    const turns = [...el.querySelectorAll<HTMLElement>("[data-role=chat-turn]")];
    expect(turns.map((t) => t.dataset.speaker)).toEqual(["user", "assistant", "user"]);
    expect(turns[0].textContent).toBe("user: Hello <b>there</b>"); // text, not markup
    expect(el.querySelector("b")).toBeNull();
    expect(turns[1].querySelector("[data-side=baseline]")!.textContent).toBe("Hi.");
    expect(turns[1].querySelector("[data-side=steered]")!.textContent).toBe("Hi, dragon.");
    expect(q<HTMLTextAreaElement>("textarea.sw-prompt:not([data-role])").hidden).toBe(true);
    expect(q("[data-role=steered-text]").textContent).toBe("Dragons!"); // the reply being written
  });

  it("sends a message with Enter or the button, never while the replies are being written", () => {
    const { model, q } = mount();
    const input = q<HTMLTextAreaElement>("[data-role=chat-input]");
    input.value = "Tell me more";
    input.dispatchEvent(new KeyboardEvent("keydown", { key: "Enter", bubbles: true }));
    expect(model.sentOfType("say")).toEqual([{ type: "say", text: "Tell me more" }]);
    expect(input.value).toBe("");
    model.kernelSet({ status_kind: "running" });
    input.value = "Again";
    q<HTMLButtonElement>("[data-role=chat-send]").click();
    expect(model.sentOfType("say").length).toBe(1);
    expect(q<HTMLButtonElement>("[data-role=chat-send]").disabled).toBe(true);
  });

  it("switches template steering, and stays hidden for a plain prompt", () => {
    const { model, q } = mount();
    const box = q<HTMLInputElement>("[data-role=steer-template]");
    box.checked = true;
    box.dispatchEvent(new Event("change"));
    expect(model.get("steer_template")).toBe(true);
    const plain = mount({ chat: [], prompt: "Once upon a time" });
    expect(plain.q(".sw-chat-box").hidden).toBe(true);
    expect(plain.q<HTMLTextAreaElement>("textarea.sw-prompt").hidden).toBe(false);
  });
});
