/**
 * The Explorer's editable text ("type and see"): an `edit text` toggle (`[data-role=edit-text]`,
 * `aria-expanded`) opens a textarea (`[data-role=explorer-text]`) over the heatmap. Typing sets the
 * `text` trait after a pause (`DEBOUNCE_MS`), so the kernel hears only the text you stopped at; it reads
 * it in a worker (newest text only) and answers with new activations and `analysed_text`. The status
 * (`[data-role=text-status]`) says "reading…" while `text` and `analysed_text` differ, and shows
 * `text_error` when the kernel could not read the text (the previous heatmap stays).
 */
import { activeIn, h, listen } from "./dom";
import { commit, getString, onChange } from "./traits";
import type { View, WidgetModel } from "./types";

export const DEBOUNCE_MS = 300;

export function createTextEditor(model: WidgetModel): View {
  const toggle = h("button", { text: "edit text", attrs: { type: "button", "data-role": "edit-text", "aria-expanded": "false" } });
  const area = h("textarea", {
    class: "sw-prompt sw-edit-text",
    attrs: { "data-role": "explorer-text", "aria-label": "Text (the heatmap follows as you type)", rows: 3, hidden: true, spellcheck: "false" },
  });
  const status = h("span", { class: "sw-dim", attrs: { "data-role": "text-status", role: "status", "aria-live": "polite" } });
  const el = h("div", { class: "sw-text-edit" }, h("div", { class: "sw-controls" }, toggle, status), area);
  let timer: ReturnType<typeof setTimeout> | null = null;

  const flush = (): void => {
    if (timer !== null) clearTimeout(timer);
    timer = null;
    if (area.value !== getString(model, "text")) commit(model, { text: area.value });
    renderStatus();
  };
  function renderStatus(): void {
    const error = getString(model, "text_error");
    const waiting = timer !== null || getString(model, "text") !== getString(model, "analysed_text");
    status.textContent = error ? `cannot read this text: ${error}` : waiting ? "reading…" : area.hidden ? "" : "up to date";
    status.setAttribute("data-kind", error ? "error" : waiting ? "running" : "done");
  }
  const stops = [
    listen(toggle, "click", () => {
      const open = area.hidden;
      if (open) area.value = getString(model, "text");
      else flush();
      area.hidden = !open;
      toggle.setAttribute("aria-expanded", String(open));
      toggle.textContent = open ? "done editing" : "edit text";
      if (open) area.focus();
      renderStatus();
    }),
    listen(area, "input", () => {
      if (timer !== null) clearTimeout(timer);
      timer = setTimeout(flush, DEBOUNCE_MS);
      renderStatus();
    }),
    listen(area, "blur", flush),
  ];
  const off = onChange(model, ["text", "analysed_text", "text_error"], () => {
    if (activeIn(area) !== area && timer === null) area.value = getString(model, "text"); // set from code
    renderStatus();
  });
  renderStatus();
  return {
    el,
    destroy() {
      if (timer !== null) clearTimeout(timer);
      for (const s of stops) s();
      off();
    },
  };
}
