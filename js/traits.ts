/** Typed reads of synced traits, and listener helpers that always clean up. */
import type { Handler, WidgetModel } from "./types";

export function getNumber(model: WidgetModel, name: string, fallback = 0): number {
  const v = model.get(name);
  return typeof v === "number" && Number.isFinite(v) ? v : fallback;
}

/** An optional integer trait (`Int(allow_none=True)`): null when unset. */
export function getOptInt(model: WidgetModel, name: string): number | null {
  const v = model.get(name);
  return typeof v === "number" && Number.isInteger(v) ? v : null;
}

export function getString(model: WidgetModel, name: string, fallback = ""): string {
  const v = model.get(name);
  return typeof v === "string" ? v : fallback;
}

export function getBool(model: WidgetModel, name: string, fallback = false): boolean {
  const v = model.get(name);
  return typeof v === "boolean" ? v : fallback;
}

export function getStringList(model: WidgetModel, name: string): string[] {
  const v = model.get(name);
  return Array.isArray(v) ? v.map((x) => (typeof x === "string" ? x : String(x))) : [];
}

export function getIntList(model: WidgetModel, name: string): number[] {
  const v = model.get(name);
  return Array.isArray(v) ? v.filter((x): x is number => typeof x === "number" && Number.isInteger(x)) : [];
}

/** A dict trait keyed by feature id (JSON object keys are strings), keeping the values `accept` takes. */
function getFeatureMap<V>(model: WidgetModel, name: string, accept: (value: unknown) => value is V): Map<number, V> {
  const out = new Map<number, V>();
  const v = model.get(name);
  if (v && typeof v === "object" && !Array.isArray(v)) {
    for (const [key, value] of Object.entries(v as Record<string, unknown>)) {
      const id = Number(key);
      if (Number.isInteger(id) && accept(value)) out.set(id, value);
    }
  }
  return out;
}

export function getNumberMap(model: WidgetModel, name: string): Map<number, number> {
  return getFeatureMap(model, name, (x): x is number => typeof x === "number" && Number.isFinite(x));
}

export function getStringMap(model: WidgetModel, name: string): Map<number, string> {
  return getFeatureMap(model, name, (x): x is string => typeof x === "string" && x !== "");
}

/** Set traits locally (listeners fire at once) and queue them for the kernel. */
export function commit(model: WidgetModel, values: Record<string, unknown>): void {
  for (const [k, v] of Object.entries(values)) model.set(k, v);
  model.save_changes();
}

/** Listen to `change:<name>` for each name; returns the unsubscribe. */
export function onChange(model: WidgetModel, names: string[], cb: () => void): () => void {
  const handler: Handler = () => cb();
  for (const n of names) model.on(`change:${n}`, handler);
  return () => {
    for (const n of names) model.off(`change:${n}`, handler);
  };
}

/** Listen to custom messages from the kernel; returns the unsubscribe. */
export function onMessage(
  model: WidgetModel,
  cb: (msg: Record<string, unknown>, buffers: unknown[]) => void,
): () => void {
  const handler: Handler = (msg: unknown, buffers: unknown) => {
    if (msg && typeof msg === "object") cb(msg as Record<string, unknown>, Array.isArray(buffers) ? buffers : []);
  };
  model.on("msg:custom", handler);
  return () => model.off("msg:custom", handler);
}
