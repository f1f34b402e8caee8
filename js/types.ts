/** The slice of anywidget's model API that the views use (see anywidget's `AnyModel`). */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type Handler = (...args: any[]) => void;

export interface WidgetModel {
  get(name: string): unknown;
  set(name: string, value: unknown): void;
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
