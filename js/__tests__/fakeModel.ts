/** A fake anywidget model: get/set/on/off/save_changes/send, with Backbone's change semantics. */
import { render } from "../render";
import type { Handler, WidgetModel } from "../types";

function same(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (ArrayBuffer.isView(a) || ArrayBuffer.isView(b)) return false;
  if (a && b && typeof a === "object" && typeof b === "object") return JSON.stringify(a) === JSON.stringify(b);
  return false;
}

export class FakeModel implements WidgetModel {
  state: Record<string, unknown>;
  handlers = new Map<string, Set<Handler>>();
  sent: Array<{ content: unknown; buffers?: unknown }> = [];
  saves = 0;
  /** the values of each save_changes call, for asserting what reached "the kernel" */
  saved: Array<Record<string, unknown>> = [];
  private dirty: Record<string, unknown> = {};

  constructor(state: Record<string, unknown> = {}) {
    this.state = { ...state };
  }
  get(name: string): unknown {
    return this.state[name];
  }
  set(name: string, value: unknown): void {
    const old = this.state[name];
    this.state[name] = value;
    this.dirty[name] = value;
    if (!same(old, value)) this.emit(`change:${name}`, this, value);
  }
  save_changes(): void {
    this.saves += 1;
    this.saved.push(this.dirty);
    this.dirty = {};
  }
  on(event: string, cb: Handler): void {
    if (!this.handlers.has(event)) this.handlers.set(event, new Set());
    this.handlers.get(event)!.add(cb);
  }
  off(event?: string | null, cb?: Handler | null): void {
    if (!event) {
      this.handlers.clear();
      return;
    }
    if (!cb) this.handlers.delete(event);
    else this.handlers.get(event)?.delete(cb);
  }
  send(content: unknown, _callbacks?: unknown, buffers?: unknown): void {
    this.sent.push({ content, buffers });
  }
  emit(event: string, ...args: unknown[]): void {
    for (const h of [...(this.handlers.get(event) ?? [])]) h(...args);
  }
  /** What the kernel does: set traits and fire change events. */
  kernelSet(values: Record<string, unknown>): void {
    // like Backbone's set({...}): every value first, then the change events
    const changed = Object.entries(values).filter(([k, v]) => !same(this.state[k], v));
    Object.assign(this.state, values);
    for (const [k, v] of changed) this.emit(`change:${k}`, this, v);
  }
  /** A custom message from the kernel. */
  kernelSend(content: unknown, buffers: unknown[] = []): void {
    this.emit("msg:custom", content, buffers);
  }
  listenerCount(): number {
    let n = 0;
    for (const s of this.handlers.values()) n += s.size;
    return n;
  }
  sentOfType(type: string): Array<Record<string, unknown>> {
    return this.sent
      .map((s) => s.content as Record<string, unknown>)
      .filter((c) => c && c.type === type);
  }
}

/** Bytes as ipywidgets delivers them: a DataView (optionally at an odd offset inside a bigger buffer). */
export function asDataView(arr: Int32Array | Float32Array | Uint8Array, offset = 0): DataView {
  const buf = new ArrayBuffer(arr.byteLength + offset);
  new Uint8Array(buf, offset).set(new Uint8Array(arr.buffer, arr.byteOffset, arr.byteLength));
  return new DataView(buf, offset, arr.byteLength);
}

/**
 * A small activation state: `tokens`, top-k lists per token (given as [[id, value], ...]),
 * and exact columns for `columnIds` (derived from `dense` when given, else from the top-k).
 */
export function activationState(opts: {
  tokens: string[];
  k: number;
  top: Array<Array<[number, number]>>;
  columnIds?: number[];
  dense?: Record<number, number[]>;
  hasBos?: boolean;
  labels?: Record<string, string>;
}): Record<string, unknown> {
  const n = opts.tokens.length;
  const ids = new Int32Array(n * opts.k);
  const vals = new Float32Array(n * opts.k);
  opts.top.forEach((row, i) => {
    row.slice(0, opts.k).forEach(([id, v], j) => {
      ids[i * opts.k + j] = id;
      vals[i * opts.k + j] = v;
    });
  });
  const columnIds = opts.columnIds ?? [];
  const cols = new Float32Array(columnIds.length * n);
  columnIds.forEach((id, j) => {
    for (let i = 0; i < n; i++) {
      const fromDense = opts.dense?.[id]?.[i];
      const fromTop = opts.top[i]?.find(([fid]) => fid === id)?.[1] ?? 0;
      cols[j * n + i] = fromDense ?? fromTop;
    }
  });
  return {
    tokens: opts.tokens,
    n_tokens: n,
    k: opts.k,
    has_bos: opts.hasBos ?? true,
    top_ids: asDataView(ids),
    top_values: asDataView(vals),
    column_ids: columnIds,
    columns: asDataView(cols),
    labels: opts.labels ?? {},
  };
}

/** "The Eiffel Tower is in Paris" with BOS, k = 3, features 10 (landmark), 20 (city), 30 (always on). */
export function eiffelState(extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    ...activationState({
      tokens: ["<bos>", "The", " Eiffel", " Tower", " is", " in", " Paris"],
      k: 3,
      top: [
        [[30, 50]], // BOS: huge, must not set the scale
        [[30, 1]],
        [[10, 4], [30, 1]],
        [[10, 8], [30, 1]],
        [[30, 1]],
        [[30, 1], [20, 0.5]],
        [[20, 6], [10, 2], [30, 1]],
      ],
      columnIds: [10, 20, 30],
      labels: { "10": "landmarks", "20": "French cities" },
    }),
    ...extra,
  };
}

/** Render `state` (which names its `view`) into a fresh element attached to the page. */
export function mountView(state: Record<string, unknown>) {
  const model = new FakeModel(state);
  const el = document.createElement("div");
  document.body.appendChild(el);
  const cleanup = render({ model, el });
  return { model, el, cleanup, q: <T extends HTMLElement>(s: string) => el.querySelector<T>(s)! };
}
