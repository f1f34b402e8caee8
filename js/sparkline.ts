/** A tiny bar sparkline of a feature's activation over the tokens (inline SVG). */
import { svg } from "./dom";

/** Max of `values` in `buckets` equal slices (skipping position 0 when it is BOS). */
export function bucketMax(values: ArrayLike<number>, buckets: number, skipFirst: boolean): Float32Array {
  const start = skipFirst ? 1 : 0;
  const n = values.length - start;
  const b = Math.max(1, Math.min(buckets, n));
  const out = new Float32Array(n > 0 ? b : 0);
  for (let i = 0; i < n; i++) {
    const j = Math.floor((i * b) / n);
    const v = values[start + i];
    if (v > out[j]) out[j] = v;
  }
  return out;
}

export function sparkline(
  values: ArrayLike<number>,
  opts: { skipFirst: boolean; width?: number; height?: number; mark?: number | null; max?: number },
): SVGSVGElement {
  const width = opts.width ?? 84;
  const height = opts.height ?? 18;
  const start = opts.skipFirst ? 1 : 0;
  const n = values.length - start;
  const buckets = bucketMax(values, Math.floor(width / 2), opts.skipFirst);
  let max = opts.max ?? 0;
  if (!(max > 0)) for (const v of buckets) max = Math.max(max, v);
  const el = svg("svg", { class: "sw-spark", width, height, viewBox: `0 0 ${width} ${height}`, "aria-hidden": "true" });
  const bw = buckets.length ? width / buckets.length : width;
  buckets.forEach((v, j) => {
    if (!(v > 0) || !(max > 0)) return;
    const bh = Math.max(1, (v / max) * (height - 2));
    el.appendChild(
      svg("rect", {
        x: (j * bw).toFixed(2),
        y: (height - bh).toFixed(2),
        width: Math.max(0.8, bw - 0.4).toFixed(2),
        height: bh.toFixed(2),
      }),
    );
  });
  if (opts.mark !== null && opts.mark !== undefined && n > 0 && opts.mark >= start) {
    const x = (((opts.mark - start) + 0.5) / n) * width;
    el.appendChild(svg("rect", { class: "sw-spark-mark", x: (x - 0.75).toFixed(2), y: 0, width: 1.5, height }));
  }
  return el;
}
