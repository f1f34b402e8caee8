/**
 * Activation data shared by the views of one widget model.
 *
 * Traits (set by the kernel):
 *   tokens: string[]               one per token, BOS included
 *   has_bos: boolean               position 0 is BOS (excluded from scales and statistics)
 *   n_tokens, k: number
 *   top_ids: bytes                 int32, row-major [n_tokens, k], strongest first
 *   top_values: bytes              float32, same layout
 *   word_ranks: bytes              uint8, same layout: where each comes in a clicked token's list: 1 to 127,
 *                                  the features of its word; from 129 (TEXT_RANK_BASE + 1), those that stand
 *                                  out in the whole text; 0, the rest (strongest first); empty: strongest first
 *   column_ids: number[]           features whose exact per-token activations are sent
 *   columns: bytes                 float32, row-major [len(column_ids), n_tokens]
 *   labels: {id: label}
 *
 * A feature outside `column_ids` gets an approximate column from the top-k data at once
 * (its value where it is in a token's top k, 0 elsewhere) and the exact one is requested
 * from the kernel: `{type: "column", feature, epoch}` -> `{type: "column", feature, epoch, n_tokens}` +
 * one float32 buffer (or `{type: "column", feature, epoch, error}`). `epoch` counts the data changes this
 * store has seen: a reply about the text before the latest change (the kernel can answer from the old
 * activations while a worker is swapping in new ones) is dropped, not shown against the new tokens.
 */
import { toFloat32, toInt32, toUint8 } from "./binary";
import { getBool, getIntList, getNumber, getStringList, getStringMap, onChange, onMessage } from "./traits";
import type { WidgetModel } from "./types";

export interface ActData {
  tokens: string[];
  n: number;
  k: number;
  hasBos: boolean;
  topIds: Int32Array;
  topValues: Float32Array;
  /** [n, k] where each of a token's features comes in its list (1-127: its word's; > 128: the text's; 0: the rest); may be empty */
  wordRanks: Uint8Array;
  /** features with exact columns, in the kernel's order (strongest over the text first) */
  columnIds: number[];
  columns: Map<number, Float32Array>;
}

export interface Column {
  values: Float32Array;
  /** false while only the top-k approximation is known */
  exact: boolean;
}

export const DATA_TRAITS = [
  "tokens",
  "has_bos",
  "n_tokens",
  "k",
  "top_ids",
  "top_values",
  "word_ranks",
  "column_ids",
  "columns",
];

/** Decode the activation traits of `model`. Throws on inconsistent sizes. */
export function readActData(model: WidgetModel): ActData {
  const tokens = getStringList(model, "tokens");
  const n = getNumber(model, "n_tokens", tokens.length);
  const k = getNumber(model, "k", 0);
  const topIds = toInt32(model.get("top_ids"));
  const topValues = toFloat32(model.get("top_values"));
  if (topIds.length !== n * k || topValues.length !== n * k) {
    throw new RangeError(`top-k data holds ${topIds.length}/${topValues.length} values, expected ${n} x ${k}`);
  }
  if (tokens.length !== n) throw new RangeError(`${tokens.length} tokens but n_tokens = ${n}`);
  const ranks = toUint8(model.get("word_ranks"));
  // a word order that does not fit the top-k data (from an older kernel, or mid-update) is ignored
  const wordRanks = ranks.length === n * k ? ranks : new Uint8Array(0);
  const columnIds = getIntList(model, "column_ids");
  const flat = toFloat32(model.get("columns"));
  if (flat.length !== columnIds.length * n) {
    throw new RangeError(`columns hold ${flat.length} values, expected ${columnIds.length} x ${n}`);
  }
  const columns = new Map<number, Float32Array>();
  columnIds.forEach((id, j) => columns.set(id, flat.subarray(j * n, (j + 1) * n)));
  return { tokens, n, k, hasBos: getBool(model, "has_bos"), topIds, topValues, wordRanks, columnIds, columns };
}

/** The column of `feature` rebuilt from the top-k data (exact where present, 0 elsewhere). */
export function approxColumn(d: ActData, feature: number): Float32Array {
  const out = new Float32Array(d.n);
  const { k, topIds, topValues } = d;
  for (let i = 0; i < d.n; i++) {
    const base = i * k;
    for (let j = 0; j < k; j++) {
      if (topIds[base + j] === feature) {
        out[i] = topValues[base + j];
        break;
      }
    }
  }
  return out;
}

/** In `word_ranks`, ranks above this are the features that stand out in the whole text (the kernel's constant). */
export const TEXT_RANK_BASE = 128;

/** One of a token's features, as a list shows it: `word` when it is one of the token's word's features. */
export interface TokenFeature {
  id: number;
  value: number;
  /** one of the clicked word's features (its label names the word) */
  word: boolean;
  /** not the word's, but one of the features that stand out in the whole text */
  text: boolean;
}

/** Which tier of a clicked token's list a feature is in, as its id's mark: `sw-word`, `sw-text`, or none. */
export function tierClass(f: { word?: boolean; text?: boolean }): string {
  return f.word ? " sw-word" : f.text ? " sw-text" : "";
}

/**
 * The features of token `pos` in the order a clicked token lists them: with `wordFirst`, the features of its
 * word first, then those that stand out in the text (both in the kernel's `word_ranks` order), then the others
 * strongest first; otherwise strongest first.
 */
export function rankedAt(d: ActData, pos: number, wordFirst: boolean, limit = d.k): TokenFeature[] {
  if (pos < 0 || pos >= d.n) return [];
  const base = pos * d.k;
  const ranked = d.wordRanks.length === d.n * d.k;
  const out: Array<TokenFeature & { rank: number }> = [];
  for (let j = 0; j < d.k; j++) {
    const value = d.topValues[base + j];
    if (!(value > 0)) continue;
    const rank = ranked ? d.wordRanks[base + j] : 0;
    out.push({ id: d.topIds[base + j], value, word: rank > 0 && rank < TEXT_RANK_BASE, text: rank > TEXT_RANK_BASE, rank });
  }
  if (wordFirst) out.sort((a, b) => (a.rank || 256) - (b.rank || 256) || b.value - a.value);
  return out.slice(0, limit).map(({ id, value, word, text }) => ({ id, value, word, text }));
}

type Listener = (feature: number) => void;

export class Store {
  private cache: ActData | null = null;
  private error: Error | null = null;
  private extra = new Map<number, Float32Array>();
  private pending = new Set<number>();
  private failed = new Map<number, string>();
  private listeners = new Set<Listener>();
  private unsub: Array<() => void> = [];
  /** how many times the data changed: sent with each request, echoed by the kernel */
  private epoch = 0;
  /** the data traits' values the current epoch is about */
  private seen: unknown[];

  constructor(private model: WidgetModel) {
    this.seen = DATA_TRAITS.map((t) => model.get(t));
    this.unsub.push(
      onChange(model, DATA_TRAITS, () => {
        // one update of several traits fires one event each, all after every value is set: only the first
        // is news (a view may read the new data and ask for columns in between)
        const now = DATA_TRAITS.map((t) => this.model.get(t));
        if (now.every((v, i) => v === this.seen[i])) return;
        this.seen = now;
        this.epoch += 1;
        this.cache = null;
        this.error = null;
        this.extra.clear();
        this.pending.clear();
        this.failed.clear();
      }),
      onMessage(model, (msg, buffers) => this.onMessage(msg, buffers)),
    );
  }

  /** The decoded data (cached until a data trait changes). */
  data(): ActData {
    if (this.cache) return this.cache;
    if (this.error) throw this.error;
    try {
      this.cache = readActData(this.model);
      return this.cache;
    } catch (e) {
      this.error = e instanceof Error ? e : new Error(String(e));
      throw this.error;
    }
  }

  labels(): Map<number, string> {
    return getStringMap(this.model, "labels");
  }

  /** Exact column if known, else the top-k approximation (and a request for the exact one). */
  column(feature: number, request = true): Column {
    const d = this.data();
    const known = d.columns.get(feature) ?? this.extra.get(feature);
    if (known) return { values: known, exact: true };
    if (request) this.request(feature);
    return { values: approxColumn(d, feature), exact: false };
  }

  /** Why the exact column of `feature` could not be had, if it failed. */
  failure(feature: number): string | undefined {
    return this.failed.get(feature);
  }

  hasExact(feature: number): boolean {
    return this.data().columns.has(feature) || this.extra.has(feature);
  }

  request(feature: number): void {
    if (this.pending.has(feature) || this.failed.has(feature) || this.extra.has(feature)) return;
    this.pending.add(feature);
    this.model.send({ type: "column", feature, epoch: this.epoch });
  }

  /** Called with a feature id whenever its exact column arrives (or fails). */
  subscribe(fn: Listener): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  private onMessage(msg: Record<string, unknown>, buffers: unknown[]): void {
    if (msg.type !== "column" || typeof msg.feature !== "number") return;
    if (typeof msg.epoch === "number" && msg.epoch !== this.epoch) return; // about the data before the latest change
    const feature = msg.feature;
    this.pending.delete(feature);
    if (typeof msg.error === "string") {
      this.failed.set(feature, msg.error);
    } else {
      try {
        const n = this.data().n;
        this.extra.set(feature, toFloat32(buffers[0], n));
      } catch (e) {
        this.failed.set(feature, e instanceof Error ? e.message : String(e));
      }
    }
    for (const fn of this.listeners) fn(feature);
  }

  dispose(): void {
    for (const u of this.unsub) u();
    this.listeners.clear();
  }
}

const stores = new WeakMap<WidgetModel, Store>();

/** The one store of `model` (shared by all its views). */
export function storeFor(model: WidgetModel): Store {
  let s = stores.get(model);
  if (!s) {
    s = new Store(model);
    stores.set(model, s);
  }
  return s;
}
