/**
 * FeatureDashboard: one feature's top activating examples, activation histogram (inline
 * SVG), density, logit effects and its editable label.
 *
 * Traits (set by the kernel):
 *   dashboard: {
 *     feature, status: "ok" | "loading" | "unavailable" | "error", message?,
 *     label, label_source, density, max_activation, can_label,
 *     histogram: {edges: number[], counts: number[]} | null,
 *     examples: [{tokens: string[], offset, length, max_pos}],   values in dashboard_values
 *     logits_promoted: [token, value][], logits_suppressed: [token, value][],
 *     frequent_tokens: [token, texts, share][]   the tokens it usually fires on (optional)
 *   }
 *   dashboard_values: bytes        float32, the examples' activations back to back
 * Messages: browser -> kernel `{type: "set_label", feature, label}`;
 *           kernel -> browser `{type: "label_saved", feature, label}` or `{type: "label_error", feature, error}`.
 */
import { argMax, heatLevel, scaleMax } from "./colors";
import { activeIn, displayToken, fmt, h, listen, replaceChildren, svg, tokenLabel } from "./dom";
import { toFloat32 } from "./binary";
import { getOptInt, onChange, onMessage } from "./traits";
import { storeFor } from "./store";
import type { View, WidgetModel } from "./types";

export interface DashboardOptions {
  featureTrait?: string;
  /** also show the feature's activity in this widget's own text (Explorer) */
  textStats?: boolean;
  /** tokens shown either side of an example's strongest token */
  window?: number;
}

interface Example {
  tokens: string[];
  offset: number;
  length: number;
  max_pos: number;
}

export interface DashboardData {
  feature: number | null;
  status: string;
  message: string;
  label: string | null;
  label_source: string | null;
  density: number | null;
  max_activation: number | null;
  can_label: boolean;
  histogram: { edges: number[]; counts: number[] } | null;
  examples: Example[];
  logits_promoted: Array<[string, number]>;
  logits_suppressed: Array<[string, number]>;
  frequent_tokens: Array<[string, number, number]>;
}

function num(x: unknown): number | null {
  return typeof x === "number" && Number.isFinite(x) ? x : null;
}

function pairs(x: unknown): Array<[string, number]> {
  if (!Array.isArray(x)) return [];
  const out: Array<[string, number]> = [];
  for (const p of x) {
    if (Array.isArray(p) && p.length >= 2 && typeof p[1] === "number") out.push([String(p[0]), p[1]]);
  }
  return out;
}

function triples(x: unknown): Array<[string, number, number]> {
  if (!Array.isArray(x)) return [];
  const out: Array<[string, number, number]> = [];
  for (const p of x) {
    if (Array.isArray(p) && p.length >= 3 && num(p[1]) !== null && num(p[2]) !== null) out.push([String(p[0]), p[1], p[2]]);
  }
  return out;
}

/** Validate the `dashboard` trait into a typed object (missing parts become empty). */
export function parseDashboard(raw: unknown): DashboardData {
  const o = raw && typeof raw === "object" && !Array.isArray(raw) ? (raw as Record<string, unknown>) : {};
  const hist = o.histogram as Record<string, unknown> | null | undefined;
  const edges = hist && Array.isArray(hist.edges) ? hist.edges.filter((v): v is number => typeof v === "number") : [];
  const counts = hist && Array.isArray(hist.counts) ? hist.counts.filter((v): v is number => typeof v === "number") : [];
  const examples: Example[] = Array.isArray(o.examples)
    ? (o.examples as unknown[]).flatMap((e) => {
        if (!e || typeof e !== "object") return [];
        const r = e as Record<string, unknown>;
        const tokens = Array.isArray(r.tokens) ? r.tokens.map(String) : [];
        return [{ tokens, offset: num(r.offset) ?? 0, length: num(r.length) ?? tokens.length, max_pos: num(r.max_pos) ?? -1 }];
      })
    : [];
  return {
    feature: num(o.feature),
    status: typeof o.status === "string" ? o.status : o.feature === undefined ? "empty" : "ok",
    message: typeof o.message === "string" ? o.message : "",
    label: typeof o.label === "string" ? o.label : null,
    label_source: typeof o.label_source === "string" ? o.label_source : null,
    density: num(o.density),
    max_activation: num(o.max_activation),
    can_label: o.can_label !== false,
    histogram: edges.length === counts.length + 1 && counts.length > 0 ? { edges, counts } : null,
    examples,
    logits_promoted: pairs(o.logits_promoted),
    logits_suppressed: pairs(o.logits_suppressed),
    frequent_tokens: triples(o.frequent_tokens),
  };
}

/**
 * What the parts of an automatic label mean, for its tooltip: only the parts this label has
 * (`scope_widgets/analysis/auto_labels.py` writes them). Null when it has none to explain.
 */
export function autoLabelKey(label: string): string | null {
  const lines: string[] = [];
  const top = label.includes(" · top: ");
  if (top) lines.push("before “· top:”: the tokens it usually fires on; after it: what its 20 strongest examples share");
  if (/^[A-Za-z][A-Za-z' -]*: /.test(label)) lines.push("a head such as “city:” names a kind the words share");
  if (/(top: |\(|, )(after|before) \S/.test(label) || /inside (words|numbers)|word beginnings|at line starts|first tokens of a text/.test(label))
    lines.push("“after X” / “before X”, “at line starts”, “inside words”…: where its strongest examples stand");
  if (label.includes(" → ")) lines.push("after “→”: tokens it makes the model more likely to write next");
  if (label.includes("…")) lines.push("“…”: a few of its examples’ words, none repeated");
  return lines.length ? `Automatic label, a heuristic:\n${lines.map((l) => `• ${l}`).join("\n")}` : null;
}

export function densityText(d: number): string {
  if (d <= 0) return "never active";
  const pct = d * 100;
  const p = pct >= 1 ? pct.toFixed(1) : pct >= 0.01 ? pct.toFixed(2) : pct.toExponential(1);
  return `${p}% of tokens (1 in ${Math.max(1, Math.round(1 / d)).toLocaleString("en-US")})`;
}

/** Whether histogram edges are log-spaced (all positive, spanning more than a decade). */
export function logSpaced(edges: number[]): boolean {
  return edges.length > 2 && edges[0] > 0 && edges[edges.length - 1] / edges[0] > 20;
}

/** The activation histogram as an SVG bar chart (log-scaled counts; a log x axis for log-spaced bins). */
export function histogramSvg(hist: { edges: number[]; counts: number[] }, width = 320, height = 96): SVGSVGElement {
  const pad = { l: 4, r: 4, t: 4, b: 16 };
  const w = width - pad.l - pad.r;
  const ht = height - pad.t - pad.b;
  const { edges, counts } = hist;
  const lo = edges[0];
  const hi = edges[edges.length - 1];
  const logX = logSpaced(edges);
  const xOf = (v: number): number =>
    logX ? (Math.log10(v) - Math.log10(lo)) / (Math.log10(hi) - Math.log10(lo) || 1) : (v - lo) / (hi - lo || 1);
  const top = Math.log10(1 + Math.max(...counts));
  const total = counts.reduce((a, b) => a + b, 0);
  const peak = counts.indexOf(Math.max(...counts));
  const el = svg("svg", {
    class: "sw-hist",
    width,
    height,
    viewBox: `0 0 ${width} ${height}`,
    role: "img",
    "aria-label": `Histogram of activations: ${counts.length} bins from ${fmt(lo)} to ${fmt(hi)}, ${total} values, most in [${fmt(edges[peak])}, ${fmt(edges[peak + 1])})`,
  });
  counts.forEach((c, i) => {
    const x0 = pad.l + xOf(edges[i]) * w;
    const x1 = pad.l + xOf(edges[i + 1]) * w;
    const bh = top > 0 ? (Math.log10(1 + c) / top) * ht : 0;
    const bar = svg("rect", {
      class: "sw-bar",
      x: x0.toFixed(2),
      y: (pad.t + ht - bh).toFixed(2),
      width: Math.max(0.5, x1 - x0 - 0.5).toFixed(2),
      height: bh.toFixed(2),
    });
    bar.appendChild(svg("title", undefined, `[${fmt(edges[i])}, ${fmt(edges[i + 1])}): ${c}`));
    el.appendChild(bar);
  });
  el.appendChild(svg("line", { x1: pad.l, x2: width - pad.r, y1: pad.t + ht + 0.5, y2: pad.t + ht + 0.5 }));
  el.appendChild(svg("text", { x: pad.l, y: height - 3 }, fmt(lo)));
  el.appendChild(svg("text", { x: width - pad.r, y: height - 3, "text-anchor": "end" }, fmt(hi)));
  el.appendChild(svg("text", { x: width / 2, y: height - 3, "text-anchor": "middle" }, logX ? "activation (log) · count (log)" : "activation · count (log)"));
  return el;
}

function exampleEl(ex: Example, values: Float32Array, max: number, win: number): HTMLElement {
  const n = ex.tokens.length;
  const center = ex.max_pos >= 0 && ex.max_pos < n ? ex.max_pos : argMax(values, false);
  const from = Math.max(0, (center < 0 ? 0 : center) - win);
  const to = Math.min(n, (center < 0 ? 0 : center) + win + 1);
  const line = h("div", { class: "sw-example" });
  if (from > 0) line.appendChild(h("span", { class: "sw-dim", text: "… " }));
  for (let i = from; i < to; i++) {
    const v = values[i] ?? 0;
    const span = h("span", {
      class: "sw-tok" + (i === center ? " sw-max" : ""),
      attrs: { "data-h": heatLevel(v, max), title: `${tokenLabel(ex.tokens[i])}: ${fmt(v)}` },
    });
    for (const seg of displayToken(ex.tokens[i]).segments) {
      if (seg.ws) span.appendChild(h("span", { class: "sw-ws", text: seg.text }));
      else span.appendChild(document.createTextNode(seg.text));
    }
    line.appendChild(span);
  }
  if (to < n) line.appendChild(h("span", { class: "sw-dim", text: " …" }));
  return line;
}

function logitList(items: Array<[string, number]>, cls: string, heading: string): HTMLElement {
  const max = Math.max(1e-9, ...items.map(([, v]) => Math.abs(v)));
  return h(
    "div",
    { class: cls },
    h("h4", { text: heading }),
    ...(items.length
      ? items.map(([tok, v]) =>
          h(
            "div",
            { class: "sw-logit" },
            h("span", { text: tokenLabel(tok), attrs: { title: tok } }),
            h("span", { text: fmt(v) }),
            h("span", { class: "sw-lbar", style: { width: `${((Math.abs(v) / max) * 100).toFixed(1)}%` } }),
          ),
        )
      : [h("div", { class: "sw-dim", text: "—" })]),
  );
}

/**
 * "Usually fires on": the tokens a feature fires on across the corpus, not only at its strongest; each
 * with the share of the texts containing the token in which it fired on it.
 */
export function frequentList(items: Array<[string, number, number]>): HTMLElement {
  return h(
    "div",
    { class: "sw-frequent" },
    ...items.map(([tok, n, share]) =>
      h(
        "span",
        {
          class: "sw-freq",
          attrs: { title: `fired on ${JSON.stringify(tok)} in ${n} text${n === 1 ? "" : "s"}: ${Math.round(share * 100)}% of the texts that contain it` },
        },
        h("span", { class: "sw-freq-tok", text: tokenLabel(tok) }),
        h("span", { class: "sw-dim", text: ` ${Math.round(share * 100)}%` }),
      ),
    ),
  );
}

export function createDashboard(model: WidgetModel, opts: DashboardOptions = {}): View {
  const featureTrait = opts.featureTrait ?? "feature";
  const win = opts.window ?? 24;
  const store = opts.textStats ? storeFor(model) : null;

  const heading = h("h3");
  const labelInput = h("input", { attrs: { type: "text", placeholder: "name this feature", autocomplete: "off" } });
  const saveBtn = h("button", { text: "Save label", attrs: { type: "button" } });
  const saveStatus = h("span", { class: "sw-dim", attrs: { role: "status" } });
  const labelRow = h("div", { class: "sw-label-edit" }, labelInput, saveBtn, saveStatus);
  const stats = h("div", { class: "sw-dash-stats" });
  const body = h("div", { class: "sw-dash-body" });
  const el = h("div", { class: "sw-dash" }, heading, labelRow, stats, body);

  let labelFor: number | null = null;

  function feature(): number | null {
    return getOptInt(model, featureTrait);
  }

  function textStat(f: number): HTMLElement | null {
    if (!store) return null;
    try {
      const d = store.data();
      const col = store.column(f, false);
      const max = scaleMax(col.values, d.hasBos);
      const at = argMax(col.values, d.hasBos);
      let active = 0;
      for (let i = d.hasBos ? 1 : 0; i < d.n; i++) if (col.values[i] > 0) active++;
      return h(
        "span",
        undefined,
        "in this text: ",
        at >= 0
          ? h("b", { text: `max ${fmt(max)}` })
          : h("b", { text: "inactive" }),
        at >= 0 ? ` at “${tokenLabel(d.tokens[at])}”, active on ${active} token${active === 1 ? "" : "s"}` : "",
        col.exact ? "" : " (top-k)",
      );
    } catch {
      return null;
    }
  }

  function render(): void {
    const f = feature();
    const dash = parseDashboard(model.get("dashboard"));
    if (f === null) {
      heading.textContent = "No feature selected";
      labelRow.hidden = true;
      replaceChildren(stats);
      replaceChildren(body, h("div", { class: "sw-dim", text: "Select a feature to see its dashboard." }));
      return;
    }
    const current = dash.feature === f;
    const label = current ? dash.label : store?.labels().get(f) ?? null;
    heading.textContent = `Feature #${f}`;
    if (label) heading.append(` · ${label}`);
    if (current && dash.label_source) {
      const key = dash.label_source === "auto" && label ? autoLabelKey(label) : null;
      const note = h("span", { class: key ? "sw-dim sw-help" : "sw-dim", text: `${dash.label_source} label`, attrs: { title: key } });
      heading.append(" ", h("span", { class: "sw-dim" }, "(", note, ")"));
    }
    labelRow.hidden = current && !dash.can_label;
    labelInput.setAttribute("aria-label", `Label for feature ${f}`);
    const typing = activeIn(labelInput) === labelInput; // inside a shadow root too (marimo)
    if (labelFor !== f || !typing) {
      labelInput.value = label ?? "";
      if (labelFor !== f) saveStatus.textContent = "";
      labelFor = f;
    }

    const statItems: Array<HTMLElement | null> = [];
    if (current && dash.density !== null) statItems.push(h("span", undefined, "density ", h("b", { text: densityText(dash.density) })));
    if (current && dash.max_activation !== null) statItems.push(h("span", undefined, "max activation ", h("b", { text: fmt(dash.max_activation) })));
    statItems.push(textStat(f));
    replaceChildren(stats, ...statItems);

    if (!current || dash.status === "loading") {
      replaceChildren(body, h("div", { class: "sw-dim", attrs: { "aria-busy": "true" }, text: `Loading the dashboard of feature #${f}…` }));
      return;
    }
    if (dash.status === "unavailable" || dash.status === "error") {
      replaceChildren(
        body,
        h("div", { class: dash.status === "error" ? "sw-error" : "sw-dim", text: dash.message || "No dashboard data for this feature." }),
      );
      return;
    }
    let values: Float32Array;
    try {
      values = toFloat32(model.get("dashboard_values"));
    } catch {
      values = new Float32Array(0);
    }
    const exMax =
      dash.max_activation && dash.max_activation > 0
        ? dash.max_activation
        : dash.examples.reduce((m, ex) => Math.max(m, scaleMax(values.subarray(ex.offset, ex.offset + ex.length), false)), 0);
    const sections: HTMLElement[] = [];
    if (dash.histogram) {
      sections.push(h("div", { class: "sw-section" }, h("h4", { text: "Activation histogram" }), histogramSvg(dash.histogram)));
    }
    if (dash.frequent_tokens.length) {
      sections.push(h("div", { class: "sw-section" }, h("h4", { text: "Usually fires on" }), frequentList(dash.frequent_tokens)));
    }
    if (dash.examples.length) {
      sections.push(
        h(
          "div",
          { class: "sw-section" },
          h("h4", { text: "Top activating examples" }),
          h(
            "div",
            { class: "sw-examples" },
            ...dash.examples.map((ex) => exampleEl(ex, values.subarray(ex.offset, ex.offset + ex.length), exMax, win)),
          ),
        ),
      );
    }
    if (dash.logits_promoted.length || dash.logits_suppressed.length) {
      sections.push(
        h(
          "div",
          { class: "sw-section" },
          h("h4", { text: "Logit effects" }),
          h(
            "div",
            { class: "sw-logits" },
            logitList(dash.logits_promoted, "sw-up", "promotes"),
            logitList(dash.logits_suppressed, "sw-down", "suppresses"),
          ),
        ),
      );
    }
    if (!sections.length) sections.push(h("div", { class: "sw-dim", text: dash.message || "No dashboard data for this feature." }));
    replaceChildren(body, ...sections);
  }

  function save(): void {
    const f = feature();
    if (f === null) return;
    saveStatus.textContent = "saving…";
    model.send({ type: "set_label", feature: f, label: labelInput.value.trim() });
  }

  const cleanups: Array<() => void> = [
    listen(saveBtn, "click", save),
    listen(labelInput, "keydown", (ev) => {
      if (ev.key === "Enter") {
        ev.preventDefault();
        save();
      } else if (ev.key === "Escape") {
        labelInput.value = parseDashboard(model.get("dashboard")).label ?? "";
      }
    }),
    onMessage(model, (msg) => {
      if (msg.feature !== feature()) return;
      if (msg.type === "label_saved") saveStatus.textContent = "saved";
      else if (msg.type === "label_error") saveStatus.textContent = `not saved: ${String(msg.error)}`;
    }),
    onChange(model, [featureTrait, "dashboard", "dashboard_values", "labels"], render),
  ];
  if (store) cleanups.push(store.subscribe((f) => f === feature() && render()));

  render();
  return {
    el,
    destroy() {
      for (const c of cleanups) c();
    },
  };
}
