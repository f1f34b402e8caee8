/**
 * SteeringPanel: one native range slider (plus a number box) per feature, the method and
 * sampling settings, and the baseline and steered generations side by side, streamed.
 *
 * Slider input is debounced (`debounceMs`, 250 ms after the last input event) before the
 * coefficient dict is sent to the kernel; releasing the slider or committing the number box
 * sends at once. The kernel cancels any stale generation when a newer value arrives.
 *
 * Traits: `<coefTrait>` ({id: coefficient}; "coefficients" or "steering"), `method`
 * ("add" | "clamp" | "ablate"), `max_new_tokens`, `temperature`, `repetition_penalty` (1 to 2; 1 is
 * off), `seed` (int | null),
 * `prompt`, and, written by the kernel, `baseline_text`, `steered_text` (drawn token by token with
 * their probabilities from `<side>_pieces` / `<side>_probs`: see generations.ts), `status`,
 * `status_kind` ("idle" | "running" | "done" | "error" | "cancelled"), `generating`
 * ("baseline" | "steered" | ""), `feature_max` ({id: typical max activation}), `labels`.
 * Messages to the kernel: `{type: "generate", force}` and `{type: "stop"}`.
 */
import { activeIn, fmt, h, listen, replaceChildren, uniqueId } from "./dom";
import { createChat, isChat } from "./chat";
import { divergenceText, drawGenerated, firstDivergence, readGenerated } from "./generations";
import { commit, getBool, getNumber, getNumberMap, getOptInt, getString, getStringMap, onChange } from "./traits";
import type { View, WidgetModel } from "./types";

export interface SteeringOptions {
  coefTrait?: string;
  debounceMs?: number;
  /** the slider range's fallback source when the kernel sent no typical max */
  typicalMax?: (feature: number) => number | null;
  /** text shown when there are no features */
  emptyHint?: string;
}

/** Checked against scope_widgets.steering.METHODS / POSITIONS by tests/test_frontend_contract.py. */
export const METHODS = ["add", "clamp", "ablate"] as const;
export const POSITIONS = ["all", "prompt", "generated"] as const;
const POSITION_HINTS: Record<string, string> = {
  all: "steer the prompt and every new token",
  prompt: "steer only the prompt's own tokens",
  generated: "steer only the tokens that predict new text",
};

/** Round up to 1, 2, 2.5 or 5 times a power of ten. */
export function niceCeil(x: number): number {
  if (!(x > 0)) return 1;
  const p = 10 ** Math.floor(Math.log10(x));
  for (const m of [1, 2, 2.5, 5, 10]) if (m * p >= x * (1 - 1e-9)) return m * p;
  return 10 * p;
}

/** Slider bounds for a feature whose activations typically reach `typical`: +/- about 3x. */
export function sliderRange(typical: number | null | undefined, value = 0): { min: number; max: number; step: number } {
  const t = typical && typical > 0 ? typical : 10 / 3;
  const limit = niceCeil(Math.max(3 * t, Math.abs(value)));
  return { min: -limit, max: limit, step: limit / 200 };
}

/** A one-line summary of the active steering, e.g. "add #12 ×8, #40 ×-2". */
export function steeringSummary(coefs: Map<number, number>, method: string): string {
  const active = [...coefs].filter(([, c]) => c !== 0);
  if (!active.length) return "no steering";
  if (method === "ablate") return `ablate ${active.map(([id]) => `#${id}`).join(", ")}`;
  const sign = method === "clamp" ? "=" : "×";
  return `${method} ${active.map(([id, c]) => `#${id} ${sign}${fmt(c)}`).join(", ")}`;
}

interface SliderRow {
  id: number;
  el: HTMLElement;
  range: HTMLInputElement;
  number: HTMLInputElement;
}

export function createSteering(model: WidgetModel, opts: SteeringOptions = {}): View {
  const coefTrait = opts.coefTrait ?? "coefficients";
  const debounceMs = opts.debounceMs ?? 250;

  const prompt = h("textarea", {
    class: "sw-prompt",
    attrs: { "aria-label": "Prompt", rows: 2, spellcheck: "false" },
  });
  const sliders = h("div", { class: "sw-sliders", attrs: { role: "group", "aria-label": "Steering coefficients" } });
  const method = h(
    "select",
    { attrs: { "aria-label": "Steering method" } },
    ...METHODS.map((m) => h("option", { text: m, attrs: { value: m } })),
  );
  const positions = h(
    "select",
    { attrs: { "aria-label": "Where to steer", title: "Which token positions the steering acts on" } },
    ...POSITIONS.map((p) => h("option", { text: p, attrs: { value: p, title: POSITION_HINTS[p] } })),
  );
  const maxTokens = h("input", { attrs: { type: "number", min: 1, max: 2048, step: 1, "aria-label": "Maximum new tokens" } });
  const temperature = h("input", { attrs: { type: "number", min: 0, max: 5, step: 0.1, "aria-label": "Temperature" } });
  const penalty = h("input", {
    attrs: { type: "number", min: 1, max: 2, step: 0.05, "aria-label": "Repetition penalty", title: "How much less likely a token already in the text becomes (1 = not at all): keeps the model from looping" },
  });
  const seed = h("input", { attrs: { type: "number", step: 1, placeholder: "random", "aria-label": "Seed (empty for random)" } });
  const showProbs = h("input", { attrs: { type: "checkbox", "data-role": "show-probs", "aria-label": "Underline each generated token by how unsure the model was" } });
  const generate = h("button", { text: "Generate", attrs: { type: "button", title: "Generate again (Ctrl+Enter in the prompt)" } });
  const stop = h("button", { text: "Stop", attrs: { type: "button" } });
  const label = (text: string, input: HTMLElement): HTMLElement => h("label", undefined, h("span", { class: "sw-dim", text }), input);
  const controls = h(
    "div",
    { class: "sw-controls" },
    label("method", method),
    label("positions", positions),
    label("max tokens", maxTokens),
    label("temperature", temperature),
    label("repetition penalty", penalty),
    label("seed", seed),
    label("probabilities", showProbs),
    generate,
    stop,
  );
  const promptEcho = (): HTMLElement => h("span", { class: "sw-gen-prompt" });
  const baselinePrompt = promptEcho();
  const steeredPrompt = promptEcho();
  const baselineText = h("span", { attrs: { "data-role": "baseline-text" } });
  const steeredText = h("span", { attrs: { "data-role": "steered-text" } });
  const baselineHead = h("h4", { text: "Baseline" });
  const steeredHead = h("h4", { text: "Steered" });
  const baselinePane = h("div", { class: "sw-gen" }, baselineHead, h("div", { class: "sw-gen-text" }, baselinePrompt, baselineText));
  const steeredPane = h("div", { class: "sw-gen" }, steeredHead, h("div", { class: "sw-gen-text" }, steeredPrompt, steeredText));
  const divergence = h("div", { class: "sw-dim", attrs: { "data-role": "divergence" } });
  const status = h("div", { class: "sw-status", attrs: { "aria-hidden": "true" } });
  const announce = h("div", { class: "sw-sr-only", attrs: { role: "status", "aria-live": "polite" } });
  const chat = createChat(model);
  const el = h(
    "div",
    { class: "sw-steering" },
    prompt,
    chat.el,
    sliders,
    controls,
    h("div", { class: "sw-gens" }, baselinePane, steeredPane),
    divergence,
    status,
    announce,
  );

  let rows = new Map<number, SliderRow>();
  let built = false;
  const pending = new Map<number, number>();
  let timer: ReturnType<typeof setTimeout> | null = null;
  let announced = "";

  function coefs(): Map<number, number> {
    return getNumberMap(model, coefTrait);
  }

  function typical(id: number): number | null {
    const fromKernel = getNumberMap(model, "feature_max").get(id);
    if (fromKernel && fromKernel > 0) return fromKernel;
    return opts.typicalMax ? opts.typicalMax(id) : null;
  }

  function flush(): void {
    if (timer !== null) {
      clearTimeout(timer);
      timer = null;
    }
    if (!pending.size) return;
    const next: Record<string, number> = {};
    for (const [id, c] of coefs()) next[String(id)] = c;
    for (const [id, c] of pending) next[String(id)] = c;
    pending.clear();
    commit(model, { [coefTrait]: next });
  }

  function schedule(): void {
    if (timer !== null) clearTimeout(timer);
    timer = setTimeout(flush, debounceMs);
  }

  function setRange(row: SliderRow, value: number): void {
    const r = sliderRange(typical(row.id), value);
    row.range.min = String(r.min);
    row.range.max = String(r.max);
    row.range.step = String(r.step);
  }

  function makeRow(id: number, value: number, labels: Map<number, string>): SliderRow {
    const name = labels.get(id);
    const fullName = `feature ${id}${name ? ` (${name})` : ""}`;
    const labelId = uniqueId("sw-sl");
    const range = h("input", {
      attrs: {
        type: "range",
        "data-feature-id": id,
        "aria-label": `Steering coefficient for ${fullName}`,
        "aria-describedby": labelId,
      },
    });
    const number = h("input", {
      attrs: { type: "number", step: "any", "data-coef-feature": id, "aria-label": `Coefficient value for ${fullName}` },
    });
    const remove = h("button", {
      class: "sw-remove",
      text: "×",
      attrs: { type: "button", "data-remove-feature": id, "aria-label": `Remove ${fullName} from steering`, title: "remove" },
    });
    const el = h(
      "div",
      { class: "sw-slider", attrs: { "data-steer-row": id } },
      h("span", { class: "sw-flabel", attrs: { id: labelId, title: fullName } }, h("span", { class: "sw-fid", text: `#${id} ` }), name ?? ""),
      range,
      number,
      remove,
    );
    const row: SliderRow = { id, el, range, number };
    setRange(row, value);
    range.value = String(value);
    number.value = String(value);
    return row;
  }

  function renderSliders(): void {
    const c = coefs();
    const labels = getStringMap(model, "labels");
    const sameKeys = built && c.size === rows.size && [...c.keys()].every((id) => rows.has(id));
    if (!sameKeys) {
      built = true;
      const focusedId = rows.size ? [...rows.values()].find((r) => r.el.contains(activeIn(r.el)))?.id : undefined;
      rows = new Map();
      for (const [id, v] of c) rows.set(id, makeRow(id, pending.get(id) ?? v, labels));
      replaceChildren(
        sliders,
        ...(rows.size
          ? [...rows.values()].map((r) => r.el)
          : [h("div", { class: "sw-dim", text: opts.emptyHint ?? "No features to steer." })]),
      );
      if (focusedId !== undefined) rows.get(focusedId)?.range.focus();
    } else {
      for (const [id, v] of c) {
        const row = rows.get(id) as SliderRow;
        if (pending.has(id)) continue; // the user is moving it: keep their value
        setRange(row, v);
        if (Number(row.range.value) !== v) row.range.value = String(v);
        if (activeIn(row.number) !== row.number) row.number.value = String(v);
      }
    }
    steeredHead.textContent = `Steered (${steeringSummary(c, getString(model, "method", "add"))})`;
  }

  function renderSettings(): void {
    const m = getString(model, "method", "add");
    method.value = m;
    positions.value = getString(model, "positions", "all");
    if (activeIn(maxTokens) !== maxTokens) maxTokens.value = String(getNumber(model, "max_new_tokens", 40));
    if (activeIn(temperature) !== temperature) temperature.value = String(getNumber(model, "temperature", 0));
    if (activeIn(penalty) !== penalty) penalty.value = String(getNumber(model, "repetition_penalty", 1.1));
    if (activeIn(seed) !== seed) {
      const s = getOptInt(model, "seed");
      seed.value = s === null ? "" : String(s);
    }
    steeredHead.textContent = `Steered (${steeringSummary(coefs(), m)})`;
  }

  function renderPrompt(): void {
    const p = getString(model, "prompt");
    const chatting = isChat(model); // the transcript shows the conversation; the panes, the replies
    prompt.hidden = chatting;
    if (activeIn(prompt) !== prompt) prompt.value = p;
    baselinePrompt.textContent = chatting ? "" : p;
    steeredPrompt.textContent = chatting ? "" : p;
  }

  function renderOutput(): void {
    const base = readGenerated(model, "baseline");
    const steered = readGenerated(model, "steered");
    const done = getString(model, "status_kind", "idle") === "done";
    const at = done && base.tokenised && steered.tokenised ? firstDivergence(base.pieces, steered.pieces) : -2;
    drawGenerated(baselineText, base, at);
    drawGenerated(steeredText, steered, at);
    divergence.textContent = at === -2 ? "" : divergenceText(base, steered, at);
    const kind = getString(model, "status_kind", "idle");
    const side = getString(model, "generating");
    const running = kind === "running";
    baselinePane.classList.toggle("sw-running", running && side === "baseline");
    steeredPane.classList.toggle("sw-running", running && side === "steered");
    steeredPane.setAttribute("aria-busy", String(running));
    stop.disabled = !running;
    status.textContent = getString(model, "status");
    status.setAttribute("data-kind", kind);
    // screen readers hear how a generation ended, not every streamed token
    const text = getString(model, "status");
    if ((kind === "done" || kind === "error" || kind === "cancelled") && text !== announced) {
      announced = text;
      announce.textContent = text;
    }
  }

  function rowOf(target: EventTarget | null): SliderRow | null {
    const row = target instanceof Element ? target.closest("[data-steer-row]") : null;
    const id = row ? Number(row.getAttribute("data-steer-row")) : NaN;
    return Number.isInteger(id) ? rows.get(id) ?? null : null;
  }

  function commitPrompt(): void {
    if (prompt.value !== getString(model, "prompt")) commit(model, { prompt: prompt.value });
  }

  const cleanups: Array<() => void> = [
    listen(sliders, "input", (ev) => {
      const row = rowOf(ev.target);
      if (!row) return;
      const v = Number((ev.target as HTMLInputElement).value);
      if (!Number.isFinite(v)) return;
      if (ev.target === row.range) {
        row.number.value = String(v);
        pending.set(row.id, v);
        schedule();
      }
    }),
    listen(sliders, "change", (ev) => {
      const row = rowOf(ev.target);
      if (!row) return;
      const v = Number((ev.target as HTMLInputElement).value);
      if (!Number.isFinite(v) || (ev.target as HTMLInputElement).value === "") return;
      if (ev.target === row.number) {
        setRange(row, v);
        row.range.value = String(v);
      } else {
        row.number.value = String(v);
      }
      pending.set(row.id, v);
      flush(); // released / committed: no need to wait
    }),
    listen(sliders, "click", (ev) => {
      const t = ev.target instanceof Element ? ev.target.closest("[data-remove-feature]") : null;
      if (!t) return;
      const id = Number(t.getAttribute("data-remove-feature"));
      pending.delete(id);
      const next: Record<string, number> = {};
      for (const [k, c] of coefs()) if (k !== id) next[String(k)] = c;
      commit(model, { [coefTrait]: next });
    }),
    listen(method, "change", () => commit(model, { method: method.value })),
    listen(positions, "change", () => commit(model, { positions: positions.value })),
    listen(maxTokens, "change", () => {
      const v = Math.round(Number(maxTokens.value));
      if (Number.isFinite(v) && v >= 1) commit(model, { max_new_tokens: v });
      else renderSettings();
    }),
    listen(temperature, "change", () => {
      const v = Number(temperature.value);
      if (Number.isFinite(v) && v >= 0) commit(model, { temperature: v });
      else renderSettings();
    }),
    listen(penalty, "change", () => {
      const v = Number(penalty.value);
      if (Number.isFinite(v) && v >= 1 && v <= 2) commit(model, { repetition_penalty: v });
      else renderSettings();
    }),
    listen(seed, "change", () => {
      const raw = seed.value.trim();
      const v = Math.round(Number(raw));
      if (raw === "") commit(model, { seed: null });
      else if (Number.isFinite(v)) commit(model, { seed: v });
      else renderSettings();
    }),
    listen(prompt, "change", commitPrompt),
    listen(prompt, "keydown", (ev) => {
      if (ev.key === "Enter" && (ev.ctrlKey || ev.metaKey)) {
        ev.preventDefault();
        commitPrompt();
        model.send({ type: "generate", force: true });
      }
    }),
    listen(generate, "click", () => {
      flush();
      commitPrompt();
      model.send({ type: "generate", force: true });
    }),
    listen(stop, "click", () => model.send({ type: "stop" })),
    onChange(model, [coefTrait, "feature_max"], renderSliders),
    onChange(model, ["method", "positions", "max_new_tokens", "temperature", "repetition_penalty", "seed"], renderSettings),
    onChange(model, ["prompt", "chat"], renderPrompt),
    onChange(model, ["baseline_text", "steered_text", "status", "status_kind", "generating", "baseline_pieces", "steered_pieces"], renderOutput),
    listen(showProbs, "change", () => el.classList.toggle("sw-show-probs", showProbs.checked)),
    () => {
      // do not lose a value the user set just before the view went away
      try {
        flush();
      } catch {
        /* the model is already closed */
      }
    },
  ];
  // labels change the slider names: rebuild rows then
  cleanups.push(
    onChange(model, ["labels"], () => {
      built = false;
      renderSliders();
    }),
  );

  renderPrompt();
  renderSettings();
  renderSliders();
  renderOutput();

  if (getBool(model, "auto_generate") && getString(model, "baseline_text") === "" && getString(model, "status_kind", "idle") === "idle") {
    model.send({ type: "generate", force: false });
  }

  return {
    el,
    destroy() {
      for (const c of cleanups) c();
      chat.destroy();
    },
  };
}
