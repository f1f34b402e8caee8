/**
 * Colour scales and theme detection.
 *
 * The heatmap uses a single-hue sequential ramp (ColorBrewer "Oranges" family): activation
 * maps to opacity of one hue over the page background, so the order reads from lightness
 * alone and is safe for every kind of colour-vision deficiency. Light and dark themes get
 * their own hue (dark brown-orange on light pages, bright orange on dark ones), and the
 * text on the strongest cells switches to white / near-black so it stays readable.
 *
 * Everything else (text, borders, accents) comes from JupyterLab's `--jp-*` variables with
 * VS Code's `--vscode-*` and plain values as fallbacks: see `styles.ts`.
 */

export type RGB = readonly [number, number, number];

/** Number of discrete heat levels (level 0 = no activation). */
export const HEAT_LEVELS = 20;

export interface HeatPalette {
  /** the hue blended over the background */
  heat: RGB;
  /** page background the palette was tuned against */
  background: RGB;
  /** the theme's usual text colour */
  text: RGB;
  /** text colour used from `strongFrom` up */
  strongText: RGB;
  /** first level drawn with `strongText` */
  strongFrom: number;
}

export const LIGHT: HeatPalette = {
  heat: [140, 45, 4],
  background: [255, 255, 255],
  text: [33, 33, 33],
  strongText: [255, 255, 255],
  strongFrom: 15,
};

export const DARK: HeatPalette = {
  heat: [253, 141, 60],
  background: [17, 17, 17],
  text: [222, 222, 222],
  strongText: [17, 17, 17],
  strongFrom: 13,
};

/** Opacity of the heat hue at `level` (0 is transparent). */
export function heatAlpha(level: number): number {
  if (level <= 0) return 0;
  return 0.1 + (0.8 * Math.min(level, HEAT_LEVELS)) / HEAT_LEVELS;
}

/**
 * The heat level of `value` on a scale whose top is `max`: 0 for no activation, and any
 * positive activation gets at least level 1 so sparse features stay visible.
 */
export function heatLevel(value: number, max: number): number {
  if (!(value > 0) || !(max > 0)) return 0;
  return Math.max(1, Math.min(HEAT_LEVELS, Math.ceil((value / max) * HEAT_LEVELS)));
}

/** The top of the colour scale: the largest value, skipping position 0 when it is BOS. */
export function scaleMax(values: ArrayLike<number>, skipFirst: boolean): number {
  let max = 0;
  for (let i = skipFirst ? 1 : 0; i < values.length; i++) {
    const v = values[i];
    if (v > max) max = v;
  }
  return max;
}

/** Position of the largest value (skipping BOS), or -1 when every value is 0. */
export function argMax(values: ArrayLike<number>, skipFirst: boolean): number {
  let best = -1;
  let max = 0;
  for (let i = skipFirst ? 1 : 0; i < values.length; i++) {
    if (values[i] > max) {
      max = values[i];
      best = i;
    }
  }
  return best;
}

/** `over` blended onto `under` with opacity `alpha`. */
export function blend(over: RGB, under: RGB, alpha: number): RGB {
  return [0, 1, 2].map((i) => Math.round(alpha * over[i] + (1 - alpha) * under[i])) as unknown as RGB;
}

/** WCAG relative luminance. */
export function luminance(c: RGB): number {
  const ch = (v: number): number => {
    const s = v / 255;
    return s <= 0.03928 ? s / 12.92 : ((s + 0.055) / 1.055) ** 2.4;
  };
  return 0.2126 * ch(c[0]) + 0.7152 * ch(c[1]) + 0.0722 * ch(c[2]);
}

/** WCAG contrast ratio between two colours (1 to 21). */
export function contrast(a: RGB, b: RGB): number {
  const la = luminance(a);
  const lb = luminance(b);
  return (Math.max(la, lb) + 0.05) / (Math.min(la, lb) + 0.05);
}

/** Background and text colour of a heat level, as CSS, for a palette. */
export function heatColors(level: number, p: HeatPalette): { background: string; color: string | null } {
  if (level <= 0) return { background: "transparent", color: null };
  const [r, g, b] = p.heat;
  return {
    background: `rgba(${r}, ${g}, ${b}, ${heatAlpha(level).toFixed(3)})`,
    color: level >= p.strongFrom ? `rgb(${p.strongText.join(", ")})` : null,
  };
}

/** Parse `rgb(...)`/`rgba(...)`/`#rrggbb`; null for anything else (or fully transparent). */
export function parseColor(css: string): RGB | null {
  const s = css.trim();
  const hex = /^#([0-9a-f]{3}|[0-9a-f]{6})$/i.exec(s);
  if (hex) {
    const h = hex[1].length === 3 ? hex[1].replace(/./g, (c) => c + c) : hex[1];
    return [parseInt(h.slice(0, 2), 16), parseInt(h.slice(2, 4), 16), parseInt(h.slice(4, 6), 16)];
  }
  const m = /^rgba?\(\s*([\d.]+)[\s,]+([\d.]+)[\s,]+([\d.]+)(?:[\s,/]+([\d.]+%?))?\s*\)$/i.exec(s);
  if (!m) return null;
  if (m[4] !== undefined) {
    const a = m[4].endsWith("%") ? parseFloat(m[4]) / 100 : parseFloat(m[4]);
    if (a === 0) return null;
  }
  return [Number(m[1]), Number(m[2]), Number(m[3])];
}

/**
 * Whether `el` sits on a dark background: JupyterLab's `data-jp-theme-light`, VS Code's
 * body classes, then the first opaque background among its ancestors, then the OS setting.
 */
export function isDarkTheme(el: Element): boolean {
  const body = el.ownerDocument?.body;
  if (body) {
    const jp = body.getAttribute("data-jp-theme-light");
    if (jp === "false") return true;
    if (jp === "true") return false;
    if (body.classList.contains("vscode-dark") || body.classList.contains("vscode-high-contrast")) return true;
    if (body.classList.contains("vscode-light")) return false;
  }
  const view = el.ownerDocument?.defaultView;
  if (view) {
    for (let node: Element | null = el; node; node = node.parentElement) {
      const bg = parseColor(view.getComputedStyle(node).backgroundColor || "");
      if (bg) return luminance(bg) < 0.2;
    }
    if (typeof view.matchMedia === "function") return view.matchMedia("(prefers-color-scheme: dark)").matches;
  }
  return false;
}

/**
 * Keep `root`'s `sw-dark` class in step with the host theme (JupyterLab switches themes by
 * changing attributes on <body>). Returns the stop function.
 */
export function trackTheme(root: HTMLElement): () => void {
  const update = (): void => {
    root.classList.toggle("sw-dark", isDarkTheme(root));
  };
  update();
  // The host may attach the element after render: look again once it is in the page.
  const raf = typeof requestAnimationFrame === "function" ? requestAnimationFrame(update) : 0;
  const body = root.ownerDocument?.body;
  const cancel = (): void => {
    if (raf && typeof cancelAnimationFrame === "function") cancelAnimationFrame(raf);
  };
  if (!body || typeof MutationObserver === "undefined") return cancel;
  const obs = new MutationObserver(update);
  obs.observe(body, { attributes: true, attributeFilter: ["class", "data-jp-theme-light", "data-jp-theme-name"] });
  return () => {
    cancel();
    obs.disconnect();
  };
}
