import { describe, expect, it } from "vitest";
import { toFloat32, toInt32 } from "../binary";
import {
  DARK,
  HEAT_LEVELS,
  LIGHT,
  argMax,
  blend,
  contrast,
  heatAlpha,
  heatLevel,
  isDarkTheme,
  parseColor,
  scaleMax,
  type HeatPalette,
} from "../colors";
import { displayToken, fmt, h, setAttr, tokenLabel } from "../dom";
import { bucketMax } from "../sparkline";
import { asDataView } from "./fakeModel";

describe("binary decoding", () => {
  it("decodes DataViews, ArrayBuffers and typed arrays", () => {
    const ids = new Int32Array([1, -2, 2147483647]);
    expect(Array.from(toInt32(asDataView(ids)))).toEqual([1, -2, 2147483647]);
    expect(Array.from(toInt32(ids.buffer))).toEqual([1, -2, 2147483647]);
    const vals = new Float32Array([0.5, 3.25, -1]);
    expect(Array.from(toFloat32(asDataView(vals)))).toEqual([0.5, 3.25, -1]);
    expect(Array.from(toFloat32(new Uint8Array(vals.buffer)))).toEqual([0.5, 3.25, -1]);
  });
  it("copies a view at an unaligned offset", () => {
    const vals = new Float32Array([1.5, 2.5]);
    const dv = asDataView(vals, 3);
    expect(dv.byteOffset % 4).toBe(3);
    expect(Array.from(toFloat32(dv))).toEqual([1.5, 2.5]);
  });
  it("shares memory when aligned (no copy)", () => {
    const vals = new Float32Array([1, 2, 3, 4]);
    const dv = new DataView(vals.buffer, 4, 8);
    const out = toFloat32(dv);
    expect(out.buffer).toBe(vals.buffer);
    expect(Array.from(out)).toEqual([2, 3]);
  });
  it("rejects ragged lengths and checks expected counts", () => {
    expect(() => toInt32(new DataView(new ArrayBuffer(6)))).toThrow(RangeError);
    expect(() => toFloat32(new ArrayBuffer(8), 3)).toThrow(/expected 3/);
    expect(toFloat32(null).length).toBe(0);
    expect(() => toFloat32("AAAA")).toThrow(TypeError);
  });
});

describe("colour scale", () => {
  it("maps 0 to level 0 and any positive value to at least level 1", () => {
    expect(heatLevel(0, 10)).toBe(0);
    expect(heatLevel(-3, 10)).toBe(0);
    expect(heatLevel(0.0001, 10)).toBe(1);
    expect(heatLevel(10, 10)).toBe(HEAT_LEVELS);
    expect(heatLevel(5, 10)).toBe(HEAT_LEVELS / 2);
    expect(heatLevel(50, 10)).toBe(HEAT_LEVELS);
    expect(heatLevel(1, 0)).toBe(0);
    expect(heatLevel(NaN, 1)).toBe(0);
  });
  it("is monotonic in opacity", () => {
    for (let l = 1; l < HEAT_LEVELS; l++) expect(heatAlpha(l + 1)).toBeGreaterThan(heatAlpha(l));
    expect(heatAlpha(0)).toBe(0);
  });
  it("excludes BOS from the scale", () => {
    const v = [100, 2, 5, 1];
    expect(scaleMax(v, true)).toBe(5);
    expect(scaleMax(v, false)).toBe(100);
    expect(argMax(v, true)).toBe(2);
    expect(argMax([0, 0], true)).toBe(-1);
  });
  it.each([
    ["light", LIGHT],
    ["dark", DARK],
  ] as Array<[string, HeatPalette]>)("keeps token text readable at every level (%s theme)", (_name, p) => {
    for (let l = 1; l <= HEAT_LEVELS; l++) {
      const bg = blend(p.heat, p.background, heatAlpha(l));
      const fg = l >= p.strongFrom ? p.strongText : p.text;
      expect(contrast(fg, bg), `level ${l}`).toBeGreaterThanOrEqual(3.7);
    }
  });
  it("reads lightness alone (single hue: luminance falls with level on light, rises on dark)", () => {
    const lum = (p: HeatPalette, l: number): number => {
      const c = blend(p.heat, p.background, heatAlpha(l));
      return 0.2126 * c[0] + 0.7152 * c[1] + 0.0722 * c[2];
    };
    for (let l = 1; l < HEAT_LEVELS; l++) {
      expect(lum(LIGHT, l + 1)).toBeLessThan(lum(LIGHT, l));
      expect(lum(DARK, l + 1)).toBeGreaterThan(lum(DARK, l));
    }
  });
  it("parses CSS colours", () => {
    expect(parseColor("#fff")).toEqual([255, 255, 255]);
    expect(parseColor("rgb(17, 17, 17)")).toEqual([17, 17, 17]);
    expect(parseColor("rgba(0, 0, 0, 0)")).toBeNull();
    expect(parseColor("rgb(10 20 30 / 50%)")).toEqual([10, 20, 30]);
    expect(parseColor("transparent")).toBeNull();
  });
  it("detects dark themes from JupyterLab and VS Code markers", () => {
    const el = document.createElement("div");
    document.body.appendChild(el);
    document.body.setAttribute("data-jp-theme-light", "false");
    expect(isDarkTheme(el)).toBe(true);
    document.body.setAttribute("data-jp-theme-light", "true");
    expect(isDarkTheme(el)).toBe(false);
    document.body.removeAttribute("data-jp-theme-light");
    document.body.classList.add("vscode-dark");
    expect(isDarkTheme(el)).toBe(true);
    document.body.classList.remove("vscode-dark");
    el.style.backgroundColor = "rgb(20, 20, 20)";
    expect(isDarkTheme(el)).toBe(true);
    el.remove();
  });
});

describe("dom helpers", () => {
  it("shows whitespace as glyphs and counts newlines", () => {
    expect(displayToken(" Paris")).toEqual({ segments: [{ text: "·", ws: true }, { text: "Paris", ws: false }], newlines: 0 });
    expect(displayToken("\n\n")).toEqual({ segments: [{ text: "↵↵", ws: true }], newlines: 2 });
    expect(displayToken("\t")).toEqual({ segments: [{ text: "→", ws: true }], newlines: 0 });
    expect(displayToken("").segments[0].text).toBe("∅");
    expect(tokenLabel("▁Paris")).toBe("·Paris");
  });
  it("never parses strings as HTML", () => {
    const el = h("div", { text: "<img src=x onerror=alert(1)>" }, "<b>x</b>");
    expect(el.querySelector("img")).toBeNull();
    expect(el.querySelector("b")).toBeNull();
    expect(el.textContent).toBe("<img src=x onerror=alert(1)><b>x</b>");
  });
  it("refuses event-handler attributes", () => {
    const el = document.createElement("div");
    expect(() => setAttr(el, "onclick", "alert(1)")).toThrow();
    expect(() => h("div", { attrs: { OnError: "x" } })).toThrow();
  });
  it("formats numbers compactly", () => {
    expect(fmt(3.14159)).toBe("3.14");
    expect(fmt(20)).toBe("20");
    expect(fmt(99.99)).toBe("100");
    expect(fmt(0)).toBe("0");
    expect(fmt(12345.6)).toBe("12346");
    expect(fmt(0.000012)).toBe("0.000012");
    expect(fmt(-2.5)).toBe("-2.5");
  });
  it("buckets sparkline values by max", () => {
    expect(Array.from(bucketMax([9, 1, 2, 3, 4], 2, true))).toEqual([2, 4]);
    expect(Array.from(bucketMax([0, 5], 10, true))).toEqual([5]);
    expect(bucketMax([7], 4, true).length).toBe(0);
  });
});
