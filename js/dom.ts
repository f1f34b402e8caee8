/**
 * DOM creation that treats every string as text.
 *
 * Model output (tokens, labels, generated text) only ever reaches the page through
 * `textContent` or text nodes; this module never touches `innerHTML`, and refuses
 * inline event-handler attributes, so a token such as `<img src=x onerror=...>` shows
 * as characters.
 */

export type Child = Node | string | number | null | undefined | false;

export interface Props {
  class?: string;
  text?: string;
  attrs?: Record<string, string | number | boolean | null | undefined>;
  data?: Record<string, string | number>;
  style?: Record<string, string>;
}

const SVG_NS = "http://www.w3.org/2000/svg";

function applyProps(el: Element, props: Props | undefined): void {
  if (!props) return;
  if (props.class) el.setAttribute("class", props.class);
  if (props.attrs) {
    for (const [name, value] of Object.entries(props.attrs)) setAttr(el, name, value);
  }
  if (props.data && el instanceof HTMLElement) {
    for (const [name, value] of Object.entries(props.data)) el.dataset[name] = String(value);
  }
  if (props.style && (el instanceof HTMLElement || el instanceof SVGElement)) {
    for (const [name, value] of Object.entries(props.style)) el.style.setProperty(name, value);
  }
  if (props.text !== undefined) el.textContent = props.text;
}

/** Set (or, for null/undefined/false, remove) an attribute; event-handler attributes are refused. */
export function setAttr(el: Element, name: string, value: string | number | boolean | null | undefined): void {
  if (/^on/i.test(name)) throw new Error(`refusing to set event-handler attribute ${name}`);
  if (value === null || value === undefined || value === false) el.removeAttribute(name);
  else el.setAttribute(name, value === true ? "" : String(value));
}

function append(el: Element, children: Child[]): void {
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue;
    el.appendChild(typeof c === "string" || typeof c === "number" ? document.createTextNode(String(c)) : c);
  }
}

/** Create an HTML element; string children become text nodes. */
export function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  props?: Props,
  ...children: Child[]
): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  applyProps(el, props);
  append(el, children);
  return el;
}

/** Create an SVG element. */
export function svg<K extends keyof SVGElementTagNameMap>(
  tag: K,
  attrs?: Record<string, string | number>,
  ...children: Child[]
): SVGElementTagNameMap[K] {
  const el = document.createElementNS(SVG_NS, tag);
  if (attrs) for (const [k, v] of Object.entries(attrs)) setAttr(el, k, v);
  append(el, children);
  return el;
}

/** Replace all children of `el`. */
export function replaceChildren(el: Element, ...children: Child[]): void {
  while (el.firstChild) el.removeChild(el.firstChild);
  append(el, children);
}

/** Add an event listener and return its remover. */
export function listen<K extends keyof HTMLElementEventMap>(
  el: HTMLElement | Document | Window,
  type: K,
  fn: (ev: HTMLElementEventMap[K]) => void,
  options?: AddEventListenerOptions,
): () => void {
  const f = fn as EventListener;
  el.addEventListener(type, f, options);
  return () => el.removeEventListener(type, f, options);
}

/** The focused element as `node`'s own root sees it: inside a shadow root (marimo draws widgets in one)
 * `document.activeElement` is only the shadow host. */
export function activeIn(node: Node): Element | null {
  const root = node.getRootNode() as Document | ShadowRoot;
  return root.activeElement ?? null;
}

let uid = 0;
/** A document-unique id for aria-* references. */
export function uniqueId(prefix: string): string {
  uid += 1;
  return `${prefix}-${uid}-${Math.random().toString(36).slice(2, 7)}`;
}

export interface DisplaySegment {
  text: string;
  /** rendered dim: a stand-in glyph for whitespace */
  ws: boolean;
}

export interface DisplayToken {
  segments: DisplaySegment[];
  /** line breaks to insert after the token */
  newlines: number;
}

const WS_GLYPH: Record<string, string> = {
  " ": "·",
  "\u2581": "·", // sentencepiece's word-boundary marker, if a tokenizer leaves it in
  "\t": "→",
  "\n": "↵",
  "\r": "",
  "\u00a0": "⍽",
};

/**
 * How a token shows in the heatmap: whitespace as dim glyphs (· for a space, → for a tab,
 * ↵ for a newline, which is also followed by a real line break), everything else verbatim.
 */
export function displayToken(token: string): DisplayToken {
  const segments: DisplaySegment[] = [];
  let newlines = 0;
  let buf = "";
  let bufWs = false;
  const flush = (): void => {
    if (buf) segments.push({ text: buf, ws: bufWs });
    buf = "";
  };
  for (const ch of token) {
    const glyph = WS_GLYPH[ch];
    const isWs = glyph !== undefined;
    if (ch === "\n") newlines += 1;
    if (isWs !== bufWs) {
      flush();
      bufWs = isWs;
    }
    buf += isWs ? glyph : ch;
  }
  flush();
  if (segments.length === 0) segments.push({ text: "∅", ws: true }); // empty token: keep it visible and clickable
  return { segments, newlines };
}

/** A token as plain readable text for labels and tooltips. */
export function tokenLabel(token: string): string {
  return displayToken(token)
    .segments.map((s) => s.text)
    .join("");
}

/** Format an activation value compactly (3 significant digits, no trailing zeros). */
export function fmt(v: number, digits = 3): string {
  if (!Number.isFinite(v)) return String(v);
  if (v === 0) return "0";
  const a = Math.abs(v);
  if (a >= 1000) return v.toFixed(0);
  let s = v.toPrecision(digits);
  if (s.includes("e")) {
    const [m, e] = s.split("e");
    return `${m.includes(".") ? m.replace(/\.?0+$/, "") : m}e${e}`;
  }
  if (s.includes(".")) s = s.replace(/\.?0+$/, "");
  return s;
}
