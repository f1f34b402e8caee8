/**
 * A saved page (scope_widgets.widgets.export.save_html): each widget mounted on a `StaticModel` built from
 * its saved state, which plays the kernel's part where the saved state can answer and says plainly where it
 * cannot:
 *
 * - binary traits come back as DataViews (`{"__b64__": ...}` in the file);
 * - a selected feature whose dashboard was saved shows it; another says it was not saved;
 * - exact columns not in the page: the store keeps the top-k values (`{type: "column", error}` reply);
 * - steering, chat, attribution reruns, labels and text edits: the widget's status says that they need
 *   the running kernel. Their controls are dimmed (`.sw-saved` rules in SAVED_CSS).
 */
import type { Handler, WidgetModel } from "./types";

export const NEEDS_KERNEL = "needs the running kernel: this is a saved page";

type Saved = { state: Record<string, unknown>; dashboards?: Record<string, { dashboard: unknown; values: unknown }> };

export function decodeValue(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(decodeValue);
  if (v && typeof v === "object") {
    const o = v as Record<string, unknown>;
    if (typeof o.__b64__ === "string" && Object.keys(o).length === 1) {
      const bin = atob(o.__b64__);
      const bytes = new Uint8Array(bin.length);
      for (let i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
      return new DataView(bytes.buffer);
    }
    return Object.fromEntries(Object.entries(o).map(([k, x]) => [k, decodeValue(x)]));
  }
  return v;
}

/** What a user's change asks of the kernel, and the trait that says it cannot be done here. */
const KERNEL_TRAITS: Record<string, [string, string]> = {
  attr_position: ["attr_status", `error: attribution ${NEEDS_KERNEL}`],
  attr_target: ["attr_status", `error: attribution ${NEEDS_KERNEL}`],
  attr_contrast: ["attr_status", `error: attribution ${NEEDS_KERNEL}`],
  text: ["text_error", `editing ${NEEDS_KERNEL}`],
};

export class StaticModel implements WidgetModel {
  private state: Record<string, unknown>;
  private handlers = new Map<string, Set<Handler>>();
  private dashboards: Map<number, { dashboard: unknown; values: unknown }>;
  /** traits the views changed since the last save_changes */
  private changed = new Set<string>();

  constructor(saved: Saved) {
    this.state = decodeValue(saved.state) as Record<string, unknown>;
    this.dashboards = new Map(Object.entries(saved.dashboards ?? {}).map(([k, v]) => [Number(k), decodeValue(v) as { dashboard: unknown; values: unknown }]));
  }

  get(name: string): unknown {
    return this.state[name];
  }

  /** A view's change (what the browser would send to the kernel). */
  set(name: string, value: unknown): void {
    this.changed.add(name);
    this.assign(name, value);
  }

  /** The kernel's part: answer the changes the views just made from the saved state, or say it cannot. */
  save_changes(): void {
    const changed = [...this.changed];
    this.changed.clear();
    const featureTrait = this.state.view === "dashboard" ? "feature" : "selected_feature";
    const feature = this.state[featureTrait];
    if (changed.includes(featureTrait) && "dashboard" in this.state && typeof feature === "number") this.showDashboard(feature);
    for (const name of changed) {
      const answer = KERNEL_TRAITS[name];
      if (answer && answer[0] in this.state) this.later(() => this.assign(answer[0], answer[1]));
    }
  }

  on(event: string, cb: Handler): void {
    if (!this.handlers.has(event)) this.handlers.set(event, new Set());
    this.handlers.get(event)!.add(cb);
  }

  off(event?: string | null, cb?: Handler | null): void {
    if (!event) this.handlers.clear();
    else if (!cb) this.handlers.delete(event);
    else this.handlers.get(event)?.delete(cb);
  }

  send(content: unknown): void {
    const msg = (content ?? {}) as Record<string, unknown>;
    const reply = (m: Record<string, unknown>) => this.later(() => this.emit("msg:custom", m, []));
    switch (msg.type) {
      case "column":
        reply({ type: "column", feature: msg.feature, side: msg.side, epoch: msg.epoch, error: `exact values ${NEEDS_KERNEL}` });
        break;
      case "set_label":
        reply({ type: "label_error", feature: msg.feature, error: `saving labels ${NEEDS_KERNEL}` });
        break;
      case "ablate":
        this.later(() => this.assign("attr_status", `error: ablation ${NEEDS_KERNEL}`));
        break;
      default: // generate, stop, say, steer
        if ("status" in this.state) {
          this.later(() => {
            this.assign("status", `steering ${NEEDS_KERNEL}`);
            this.assign("status_kind", "error");
          });
        }
    }
  }

  private assign(name: string, value: unknown): void {
    const old = this.state[name];
    this.state[name] = value;
    if (old !== value) this.emit(`change:${name}`, this, value);
  }

  private showDashboard(feature: number): void {
    const saved = this.dashboards.get(feature);
    this.assign("dashboard_values", saved ? saved.values : null);
    this.assign("dashboard", saved ? saved.dashboard : {
      feature, status: "unavailable",
      message: `The dashboard of feature #${feature} was not saved with this page: showing it ${NEEDS_KERNEL.split(": ")[0]}.`,
    });
  }

  private later(fn: () => void): void {
    setTimeout(fn, 0);
  }

  private emit(event: string, ...args: unknown[]): void {
    for (const h of [...(this.handlers.get(event) ?? [])]) h(...args);
  }
}

/** Mount one saved widget into `el` (the saved page calls this for each widget it holds). */
export function mountSaved(
  el: HTMLElement,
  saved: Saved,
  widget: { initialize(a: { model: WidgetModel }): void; render(a: { model: WidgetModel; el: HTMLElement }): () => void },
): StaticModel {
  const doc = el.ownerDocument;
  if (!doc.getElementById("sw-saved-style")) {
    const style = doc.createElement("style");
    style.id = "sw-saved-style";
    style.textContent = SAVED_CSS;
    doc.head.appendChild(style);
  }
  el.classList.add("sw-saved");
  const model = new StaticModel(saved);
  widget.initialize({ model });
  widget.render({ model, el });
  return model;
}

export const SAVED_CSS = `
.sw-saved .sw-steering input, .sw-saved .sw-steering select, .sw-saved .sw-steering button,
.sw-saved .sw-steering textarea, .sw-saved [data-role=ablate], .sw-saved [data-role=ablate-select],
.sw-saved [data-role=explain-token], .sw-saved [data-action], .sw-saved [data-role=edit-text],
.sw-saved .sw-label-edit, .sw-saved [data-role=attr-token] { opacity: 0.45; cursor: not-allowed; }
`;
