/**
 * Chat in the steering panel: the conversation so far (`[data-role=chat-transcript]`), one user turn a
 * row (`[data-role=chat-turn][data-speaker=user]`) and each earlier reply as a pair, baseline beside steered
 * (`[data-speaker=assistant]` with `[data-side=baseline]` / `[data-side=steered]`): each side continues its
 * own conversation. The reply being written streams into the panel's usual baseline / steered panes.
 * A message box (`[data-role=chat-input]`, Enter sends, Shift+Enter a new line) and `[data-role=chat-send]`
 * send `{type: "say", text}`; `[data-role=steer-template]` sets `steer_template` (steer the template's own
 * tokens too). Shown only when the `chat` trait holds a conversation.
 */
import { h, listen, replaceChildren } from "./dom";
import { commit, getBool, getString, onChange } from "./traits";
import type { View, WidgetModel } from "./types";

export interface ChatTurn {
  role: string;
  content?: string;
  baseline?: string;
  steered?: string;
}

export function chatTurns(model: WidgetModel): ChatTurn[] {
  const v = model.get("chat");
  return Array.isArray(v) ? (v.filter((t) => t && typeof t === "object") as ChatTurn[]) : [];
}

export function isChat(model: WidgetModel): boolean {
  return chatTurns(model).length > 0;
}

export function createChat(model: WidgetModel): View {
  const transcript = h("div", { class: "sw-chat", attrs: { "data-role": "chat-transcript", role: "log", "aria-label": "Conversation" } });
  const input = h("textarea", { class: "sw-prompt", attrs: { "data-role": "chat-input", rows: 2, "aria-label": "Your next message (Enter sends)", placeholder: "Reply to both…" } });
  const send = h("button", { text: "Send", attrs: { type: "button", "data-role": "chat-send" } });
  const steerTemplate = h("input", { attrs: { type: "checkbox", "data-role": "steer-template", "aria-label": "Steer the chat template's own tokens too" } });
  const el = h(
    "div",
    { class: "sw-chat-box" },
    transcript,
    h("div", { class: "sw-controls" }, input, send, h("label", {}, steerTemplate, h("span", { class: "sw-dim", text: "steer template tokens" }))),
  );

  function render(): void {
    el.hidden = !isChat(model);
    replaceChildren(
      transcript,
      ...chatTurns(model).map((t) =>
        t.role === "assistant"
          ? h("div", { class: "sw-chat-turn sw-gens", attrs: { "data-role": "chat-turn", "data-speaker": "assistant" } },
              h("div", { class: "sw-gen-text sw-chat-reply", attrs: { "data-side": "baseline" }, text: t.baseline ?? "" }),
              h("div", { class: "sw-gen-text sw-chat-reply", attrs: { "data-side": "steered" }, text: t.steered ?? "" }))
          : h("div", { class: "sw-chat-turn", attrs: { "data-role": "chat-turn", "data-speaker": t.role } },
              h("span", { class: "sw-dim", text: `${t.role}: ` }), h("span", { text: t.content ?? "" })),
      ),
    );
    steerTemplate.checked = getBool(model, "steer_template");
    const busy = getString(model, "status_kind") === "running";
    send.disabled = busy;
    send.title = busy ? "Wait for both replies" : "Send to both sides";
  }

  const say = (): void => {
    const text = input.value.trim();
    if (!text || send.disabled) return;
    model.send({ type: "say", text });
    input.value = "";
  };
  const stops = [
    listen(send, "click", say),
    listen(input, "keydown", (e) => {
      if (e.key === "Enter" && !e.shiftKey) {
        e.preventDefault();
        say();
      }
    }),
    listen(steerTemplate, "change", () => commit(model, { steer_template: steerTemplate.checked })),
    onChange(model, ["chat", "steer_template", "status_kind"], render),
  ];
  render();
  return {
    el,
    destroy() {
      for (const s of stops) s();
    },
  };
}
