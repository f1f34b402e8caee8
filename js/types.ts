/**
 * The slice of anywidget's model API that the views use (anywidget's `AnyModel<T>`), and the synced
 * traits of each view, typed: the Python side is `scope_widgets/widgets/` (one trait mix-in per concern),
 * and the byte layout of the binary traits is described once, in `scope_widgets/widgets/wire.py`.
 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type Handler = (...args: any[]) => void;

/** Binary traits arrive as DataView, ArrayBuffer or a typed array, depending on the host. */
export type Binary = DataView | ArrayBuffer | ArrayBufferView | null;

/** A feature id -> value dict (JSON keys are strings). */
export type ByFeature<V> = Record<string, V>;

export type Method = "add" | "clamp" | "ablate";
export type Positions = "all" | "prompt" | "generated";

/** The activation data of one text (widgets/wire.py `ActivationTraits`). */
export interface ActivationTraits {
  tokens: string[];
  has_bos: boolean;
  n_tokens: number;
  k: number;
  top_ids: Binary; // int32 [n_tokens, k]
  top_values: Binary; // float32 [n_tokens, k]
  word_ranks: Binary; // uint8 [n_tokens, k] or empty: the clicked token's list order (1 first, 0 not its word's)
  column_ids: number[];
  columns: Binary; // float32 [column_ids.length, n_tokens]
  labels: ByFeature<string>;
  sae_name: string;
  ranking: "standout" | "strongest";
}

export interface HeatmapTraits extends ActivationTraits {
  view: "heatmap";
  feature: number | null;
  selected_token: number | null;
}

export interface FeatureListTraits extends ActivationTraits {
  view: "features";
  selected_feature: number | null;
  position: number | null;
  can_steer: boolean;
}

/** The dashboard view (widgets/_dashboard.py `DashboardTraits`); `dashboard` is parsed by dashboard.ts. */
export interface DashboardTraits {
  view: "dashboard";
  feature: number | null;
  dashboard: Record<string, unknown>;
  dashboard_values: Binary; // float32, the examples' activations
  labels: ByFeature<string>;
  feature_max: ByFeature<number>;
}

/** Steering (widgets/_steering.py `SteeringTraits`). */
export interface SteeringTraits {
  prompt: string;
  method: Method;
  positions: Positions;
  max_new_tokens: number;
  temperature: number;
  repetition_penalty: number; // 1 (off) to 2
  seed: number | null;
  baseline_text: string;
  steered_text: string;
  chat: Array<Record<string, string>>; // the conversation so far (chat.ts); [] for a plain prompt
  steer_template: boolean;
  baseline_pieces: string[]; // each generated token's text; they add up to baseline_text
  baseline_probs: Binary; // float32, one probability per piece
  steered_pieces: string[];
  steered_probs: Binary;
  status: string;
  status_kind: "idle" | "running" | "done" | "error" | "cancelled";
  generating: "baseline" | "steered" | "";
  auto_generate: boolean;
  labels: ByFeature<string>;
  feature_max: ByFeature<number>;
}

export interface SteeringPanelTraits extends SteeringTraits {
  view: "steering";
  coefficients: ByFeature<number>;
}

/** Attribution of one next-token prediction (widgets/_attribution.py `AttributionTraits`). */
export interface AttributionTraits {
  attr_position: number | null;
  attr_target: string | null;
  attr_contrast: string | null;
  attr_predictions: Array<[string, number, number]>; // [token, probability, id]
  attr_target_prob: number | null;
  attr_contrast_prob: number | null;
  attr_token_scores: Binary; // float32 [n_tokens]
  attr_feature_ids: number[];
  attr_feature_scores: Binary; // float32 [attr_feature_ids.length]
  attr_columns: Binary; // float32 [attr_feature_ids.length, n_tokens]
  attr_nodes: Record<string, number>;
  attr_ablate: number[];
  attr_result: Record<string, unknown>;
  attr_status: string;
}

export interface AttributionViewTraits extends AttributionTraits, Omit<DashboardTraits, "view" | "feature"> {
  view: "attribution";
  tokens: string[];
  has_bos: boolean;
  selected_feature: number | null;
}

export interface ExplorerTraits
  extends Omit<ActivationTraits, "labels">,
    AttributionTraits,
    Omit<SteeringTraits, "labels" | "feature_max">,
    Omit<DashboardTraits, "view" | "labels" | "feature" | "feature_max"> {
  view: "explorer";
  labels: ByFeature<string>;
  feature_max: ByFeature<number>;
  selected_token: number | null;
  selected_feature: number | null;
  steering: ByFeature<number>;
  can_steer: boolean;
  position: number | null;
  feature: number | null;
}

export type AnyTraits =
  | HeatmapTraits
  | FeatureListTraits
  | DashboardTraits
  | SteeringPanelTraits
  | ExplorerTraits
  | AttributionViewTraits;

/** A trait name of T. */
export type TraitName<T> = keyof T & string;

/** anywidget's model, for a view whose traits are T (names are checked; values are read defensively). */
export interface WidgetModel<T extends object = Record<string, unknown>> {
  get<K extends TraitName<T>>(name: K): T[K] | undefined;
  set<K extends TraitName<T>>(name: K, value: T[K]): void;
  save_changes(): void;
  on(event: string, cb: Handler): void;
  off(event?: string | null, cb?: Handler | null): void;
  send(content: unknown, callbacks?: unknown, buffers?: ArrayBuffer[] | ArrayBufferView[]): void;
}

/** A mounted view: its root element and a cleanup that removes every listener it added. */
export interface View {
  el: HTMLElement;
  destroy(): void;
}
