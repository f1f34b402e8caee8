/**
 * One side of a two-sided view (Compare): a model whose trait `x` is the real model's `<prefix>x`, except
 * for the `shared` traits, and whose custom messages carry `side` (sent) and are filtered by it (received).
 * The views and the activation store then work on each side unchanged. One adapter per (model, prefix), so
 * per-model caches (storeFor) keep working.
 */
import type { Handler, WidgetModel } from "./types";

const adapters = new WeakMap<WidgetModel, Map<string, WidgetModel>>();

export function prefixedModel(model: WidgetModel, side: string, shared: readonly string[]): WidgetModel {
  let bySide = adapters.get(model);
  if (!bySide) adapters.set(model, (bySide = new Map()));
  const existing = bySide.get(side);
  if (existing) return existing;
  const name = (n: string): string => (shared.includes(n) ? n : `${side}_${n}`);
  const event = (e: string): string => (e.startsWith("change:") ? `change:${name(e.slice(7))}` : e);
  const wrapped = new Map<Handler, Handler>();
  const wrap = (e: string, cb: Handler): Handler => {
    if (e !== "msg:custom") return cb;
    let w = wrapped.get(cb);
    if (!w) {
      w = (msg: unknown, ...rest: unknown[]) => {
        const m = msg as Record<string, unknown> | null;
        if (m && typeof m === "object" && (m.side === undefined || m.side === side)) cb(msg, ...rest);
      };
      wrapped.set(cb, w);
    }
    return w;
  };
  const adapter: WidgetModel = {
    get: (n: string) => model.get(name(n)),
    set: (n: string, v: unknown) => model.set(name(n), v),
    save_changes: () => model.save_changes(),
    on: (e: string, cb: Handler) => model.on(event(e), wrap(e, cb)),
    off: (e?: string | null, cb?: Handler | null) => {
      if (!e || !cb) return; // never clear the other side's listeners
      model.off(event(e), wrap(e, cb));
    },
    send: (content: unknown, callbacks?: unknown, buffers?: ArrayBuffer[] | ArrayBufferView[]) =>
      model.send({ ...(content as Record<string, unknown>), side }, callbacks, buffers),
  };
  bySide.set(side, adapter);
  return adapter;
}
