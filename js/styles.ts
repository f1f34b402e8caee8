/**
 * The widgets' stylesheet, injected once per document. Colours come from JupyterLab's
 * `--jp-*` variables, then VS Code's `--vscode-*`, then plain values (light and dark sets).
 */
import { DIVERGING_LEVELS } from "./attribution";
import { DARK, HEAT_LEVELS, LIGHT, heatAlpha } from "./colors";

const STYLE_ID = "scope-widgets-style";
const VERSION = "5";

function heatRules(): string {
  const rules: string[] = [];
  for (let l = 1; l <= HEAT_LEVELS; l++) {
    rules.push(`.sw-tok[data-h="${l}"]{--sw-a:${heatAlpha(l).toFixed(3)}}`);
  }
  const strong = (from: number): string =>
    Array.from({ length: HEAT_LEVELS - from + 1 }, (_, i) => `[data-h="${from + i}"]`).join(",");
  rules.push(
    `.sw-root:not(.sw-dark) .sw-tok:is(${strong(LIGHT.strongFrom)}){color:rgb(${LIGHT.strongText.join(" ")})}`,
    `.sw-root.sw-dark .sw-tok:is(${strong(DARK.strongFrom)}){color:rgb(${DARK.strongText.join(" ")})}`,
  );
  return rules.join("\n");
}

function divergingRules(): string {
  const rules: string[] = [];
  for (let l = 1; l <= DIVERGING_LEVELS; l++) {
    const a = Math.round(100 * (0.08 + (0.72 * l) / DIVERGING_LEVELS));
    rules.push(`.sw-atok[data-a="${l}"]{background:color-mix(in srgb, var(--sw-promote) ${a}%, transparent)}`);
    rules.push(`.sw-atok[data-a="-${l}"]{background:color-mix(in srgb, var(--sw-suppress) ${a}%, transparent)}`);
  }
  return rules.join("\n");
}

export const CSS = `
.sw-root {
  --sw-fg: var(--jp-ui-font-color1, var(--vscode-editor-foreground, #212121));
  --sw-fg-dim: var(--jp-ui-font-color2, var(--vscode-descriptionForeground, #5f5f5f));
  --sw-bg: var(--jp-layout-color1, var(--vscode-editor-background, #ffffff));
  --sw-bg2: var(--jp-layout-color2, var(--vscode-sideBar-background, #f2f2f2));
  --sw-border: var(--jp-border-color2, var(--vscode-panel-border, #d9d9d9));
  --sw-accent: var(--jp-brand-color1, var(--vscode-focusBorder, #1565c0));
  --sw-error: var(--jp-error-color1, var(--vscode-errorForeground, #c62828));
  --sw-ok: var(--jp-success-color1, var(--vscode-testing-iconPassed, #2e7d32));
  --sw-promote: #2166ac;
  --sw-suppress: #b35806;
  --sw-heat-rgb: ${LIGHT.heat.join(" ")};
  --sw-mono: var(--jp-code-font-family, var(--vscode-editor-font-family, ui-monospace, Menlo, Consolas, monospace));
  --sw-font: var(--jp-ui-font-family, var(--vscode-font-family, system-ui, -apple-system, "Segoe UI", sans-serif));
  --sw-size: var(--jp-ui-font-size1, 13px);
  color: var(--sw-fg);
  font-family: var(--sw-font);
  font-size: var(--sw-size);
  line-height: 1.45;
  box-sizing: border-box;
  max-width: 100%;
}
.sw-root.sw-dark {
  --sw-fg: var(--jp-ui-font-color1, var(--vscode-editor-foreground, #dedede));
  --sw-fg-dim: var(--jp-ui-font-color2, var(--vscode-descriptionForeground, #a8a8a8));
  --sw-bg: var(--jp-layout-color1, var(--vscode-editor-background, #1e1e1e));
  --sw-bg2: var(--jp-layout-color2, var(--vscode-sideBar-background, #2a2a2a));
  --sw-border: var(--jp-border-color2, var(--vscode-panel-border, #444444));
  --sw-accent: var(--jp-brand-color1, var(--vscode-focusBorder, #64b5f6));
  --sw-error: var(--jp-error-color1, var(--vscode-errorForeground, #ef9a9a));
  --sw-ok: var(--jp-success-color1, var(--vscode-testing-iconPassed, #81c784));
  --sw-promote: #92c5de;
  --sw-suppress: #fdb863;
  --sw-heat-rgb: ${DARK.heat.join(" ")};
}
.sw-root *, .sw-root *::before, .sw-root *::after { box-sizing: inherit; }
.sw-root :focus-visible { outline: 2px solid var(--sw-accent); outline-offset: 1px; }
.sw-root button, .sw-root input, .sw-root select, .sw-root textarea {
  font: inherit; color: var(--sw-fg); background: var(--sw-bg);
  border: 1px solid var(--sw-border); border-radius: 3px; padding: 2px 6px;
}
.sw-root button { cursor: pointer; background: var(--sw-bg2); }
.sw-root button:hover { border-color: var(--sw-accent); }
.sw-root button:disabled { opacity: 0.5; cursor: default; }
.sw-root h3, .sw-root h4 { margin: 0 0 4px; font-size: 1em; font-weight: 600; }
.sw-dim { color: var(--sw-fg-dim); }
.sw-help { text-decoration: underline dotted; cursor: help; }
.sw-mono { font-family: var(--sw-mono); }
.sw-sr-only { position: absolute !important; width: 1px; height: 1px; overflow: hidden; clip: rect(0 0 0 0); white-space: nowrap; }
.sw-panel { border: 1px solid var(--sw-border); border-radius: 4px; padding: 8px; background: var(--sw-bg); min-width: 0; }
.sw-error { color: var(--sw-error); }

/* heatmap */
.sw-heatmap { position: relative; }
.sw-legend { display: flex; align-items: center; gap: 8px; flex-wrap: wrap; margin-bottom: 6px; }
.sw-ramp { display: inline-block; width: 96px; height: 10px; border: 1px solid var(--sw-border);
  background: linear-gradient(to right, rgb(var(--sw-heat-rgb) / 0.1), rgb(var(--sw-heat-rgb) / 0.9)); }
.sw-tokens { font-family: var(--sw-mono); white-space: normal; word-break: break-word; line-height: 1.9;
  max-height: 24em; overflow-y: auto; padding: 2px; }
/* chunks of ~256 tokens: the browser styles, lays out and paints only those near the view; the inline
   padding keeps a focus ring or selection ring at a line's ends inside the chunk's paint clip */
.sw-heatmap > .sw-tokens { padding: 2px 0; }
.sw-chunk { content-visibility: auto; contain-intrinsic-block-size: auto 10em; padding: 0 2px; }
.sw-tok { --sw-a: 0; background-color: rgb(var(--sw-heat-rgb) / var(--sw-a)); border-radius: 2px;
  padding: 1px 0; margin: 0 0.5px; cursor: pointer; white-space: pre; box-decoration-break: clone; }
.sw-tok:hover { box-shadow: 0 0 0 1px var(--sw-fg-dim); }
.sw-tok[aria-selected="true"] { box-shadow: 0 0 0 2px var(--sw-accent); }
.sw-tok[data-bos] { opacity: 0.55; font-style: italic; }
.sw-ws { opacity: 0.45; }
.sw-tooltip { position: absolute; z-index: 10; pointer-events: none; background: var(--sw-bg); color: var(--sw-fg);
  border: 1px solid var(--sw-border); border-radius: 4px; padding: 6px 8px; box-shadow: 0 2px 8px rgb(0 0 0 / 0.25);
  min-width: 180px; max-width: 340px; font-size: 0.92em; }
.sw-tooltip[hidden] { display: none; }
.sw-tooltip table { border-collapse: collapse; width: 100%; }
.sw-tooltip td { padding: 0 4px; vertical-align: top; }
.sw-tooltip td.sw-num { text-align: right; font-family: var(--sw-mono); }

/* feature list */
.sw-flist-head { display: flex; align-items: center; gap: 6px; flex-wrap: wrap; margin-bottom: 6px; }
.sw-filter { width: 100%; margin-bottom: 4px; }
.sw-rows { max-height: 26em; overflow-y: auto; container-type: inline-size; }
.sw-item { display: flex; align-items: stretch; gap: 4px; }
.sw-item[hidden] { display: none; }
/* the label keeps at least 5em: in a narrow panel (an Explorer beside a map) the sparkline shrinks instead */
.sw-frow { flex: 1; display: grid; grid-template-columns: 4.5em minmax(5em, 1fr) 4em minmax(0, 84px); gap: 6px; align-items: center;
  padding: 2px 4px; border-radius: 3px; cursor: pointer; min-width: 0; }
.sw-frow:hover { background: var(--sw-bg2); }
.sw-frow[aria-pressed="true"] { background: rgb(var(--sw-heat-rgb) / 0.18); box-shadow: inset 3px 0 0 var(--sw-accent); }
.sw-fid { font-family: var(--sw-mono); color: var(--sw-fg-dim); }
/* a clicked token's list: the features of its word (listed first) carry a mark */
.sw-fid.sw-word { color: var(--sw-accent); font-weight: 600; }
.sw-fid.sw-text { color: var(--sw-accent); }
.sw-flabel { overflow: hidden; text-overflow: ellipsis; white-space: nowrap; }
.sw-fval { font-family: var(--sw-mono); text-align: right; }
.sw-spark { display: block; max-width: 100%; height: auto; }
/* a list narrower than the label, value and sparkline together drops the sparkline, never the value */
@container (max-width: 300px) {
  .sw-frow { grid-template-columns: auto minmax(2em, 1fr) auto; gap: 4px; }
  .sw-frow .sw-spark { display: none; }
}
.sw-spark rect { fill: rgb(var(--sw-heat-rgb) / 0.85); }
.sw-spark .sw-spark-mark { fill: var(--sw-accent); }
.sw-steer-btn { font-size: 0.85em; padding: 0 6px; }

/* dashboard */
.sw-dash-stats { display: flex; gap: 16px; flex-wrap: wrap; margin: 4px 0 8px; }
.sw-dash-stats b { font-family: var(--sw-mono); font-weight: 600; }
.sw-label-edit { display: flex; gap: 6px; margin: 4px 0; }
.sw-label-edit input { flex: 1; min-width: 0; }
.sw-hist rect.sw-bar { fill: rgb(var(--sw-heat-rgb) / 0.8); }
.sw-hist text { fill: var(--sw-fg-dim); font-size: 10px; font-family: var(--sw-mono); }
.sw-hist line { stroke: var(--sw-border); }
.sw-examples { display: flex; flex-direction: column; gap: 4px; font-family: var(--sw-mono); margin: 4px 0 8px; }
.sw-example { line-height: 1.8; word-break: break-word; border-left: 2px solid var(--sw-border); padding-left: 6px; }
.sw-example .sw-tok { cursor: default; }
.sw-example .sw-tok.sw-max { box-shadow: 0 0 0 1px var(--sw-fg); }
.sw-logits { display: grid; grid-template-columns: 1fr 1fr; gap: 8px; }
.sw-frequent { display: flex; flex-wrap: wrap; gap: 4px 12px; max-width: 640px; }
.sw-freq-tok { font-family: var(--sw-mono); background: var(--sw-bg2); border-radius: 2px; padding: 0 3px; white-space: pre; }
.sw-logit { display: grid; grid-template-columns: minmax(0, 1fr) 3.5em 60px; gap: 4px; align-items: center; font-family: var(--sw-mono); }
.sw-logit span:first-child { overflow: hidden; text-overflow: ellipsis; white-space: pre; }
.sw-logit .sw-lbar { height: 8px; border-radius: 2px; }
.sw-logits .sw-up .sw-lbar { background: var(--sw-promote); }
.sw-logits .sw-down .sw-lbar { background: var(--sw-suppress); }
.sw-section { margin-top: 8px; }
.sw-view-dashboard { max-width: 760px; }
.sw-logits { max-width: 640px; }

/* steering */
.sw-prompt { width: 100%; min-height: 2.4em; resize: vertical; font-family: var(--sw-mono); }
.sw-sliders { display: flex; flex-direction: column; gap: 4px; margin: 6px 0; }
.sw-slider { display: grid; grid-template-columns: minmax(6em, 14em) minmax(80px, 1fr) 6em auto; gap: 6px; align-items: center; }
.sw-slider input[type="range"] { width: 100%; accent-color: var(--sw-accent); }
.sw-slider input[type="number"] { width: 100%; }
.sw-controls { display: flex; flex-wrap: wrap; gap: 8px; align-items: center; margin: 6px 0; }
.sw-controls label { display: inline-flex; gap: 4px; align-items: center; }
.sw-controls input[type="number"] { width: 6.5em; }
.sw-gens { display: grid; grid-template-columns: repeat(auto-fit, minmax(220px, 1fr)); gap: 8px; }
.sw-gen { border: 1px solid var(--sw-border); border-radius: 4px; padding: 6px 8px; min-width: 0; }
.sw-gen-text { white-space: pre-wrap; word-break: break-word; font-family: var(--sw-mono); min-height: 3em; }
.sw-gen-prompt { color: var(--sw-fg-dim); }
.sw-running .sw-gen-text::after { content: "▍"; animation: sw-blink 1s steps(2) infinite; color: var(--sw-accent); }
@keyframes sw-blink { to { visibility: hidden; } }
.sw-chat { display: flex; flex-direction: column; gap: 4px; margin-bottom: 6px; max-height: 22em; overflow-y: auto; }
.sw-chat-turn[data-speaker="user"], .sw-chat-turn[data-speaker="system"] { white-space: pre-wrap; }
.sw-chat-reply { border-left: 2px solid var(--sw-border); padding-left: 6px; }
.sw-chat-box[hidden], .sw-prompt[hidden] { display: none; }
.sw-chat-box .sw-controls textarea { flex: 1; min-width: 12em; }
.sw-gtok[data-diverge] { outline: 1px dashed var(--sw-accent); outline-offset: 1px; }
.sw-show-probs .sw-gtok { text-decoration-line: underline; text-decoration-thickness: 2px; text-underline-offset: 3px;
  text-decoration-color: color-mix(in srgb, var(--sw-suppress) calc(var(--sw-u, 0) * 100%), transparent); }
.sw-status { margin-top: 6px; font-size: 0.92em; color: var(--sw-fg-dim); min-height: 1.3em; }
.sw-status[data-kind="error"] { color: var(--sw-error); }
.sw-status[data-kind="done"] { color: var(--sw-ok); }

/* attribution: blue helps the target, orange hurts (the dashboards' promote / suppress colours) */
.sw-atok { --sw-a: 0%; border-radius: 2px; padding: 1px 0; margin: 0 0.5px; cursor: pointer; white-space: pre; box-decoration-break: clone; }
.sw-atok:hover { box-shadow: 0 0 0 1px var(--sw-fg-dim); }
.sw-atok[aria-current="true"] { box-shadow: 0 0 0 2px var(--sw-accent); }
.sw-atok[data-after] { opacity: 0.4; }
.sw-atok[data-bos] { opacity: 0.55; font-style: italic; }
.sw-attr-grid { display: grid; grid-template-columns: minmax(0, 1fr) minmax(0, 2fr); gap: 8px; margin-top: 6px; }
@media (max-width: 760px) { .sw-attr-grid { grid-template-columns: minmax(0, 1fr); } }
.sw-attr-pred { display: grid; grid-template-columns: minmax(0, 1fr) 4.5em auto auto; gap: 4px; align-items: center; padding: 1px 0; }
.sw-attr-pred span:first-child { overflow: hidden; text-overflow: ellipsis; white-space: pre; }
.sw-attr-pred button { font-size: 0.85em; padding: 0 6px; }
.sw-attr-pred button[aria-pressed="true"] { border-color: var(--sw-accent); box-shadow: inset 0 0 0 1px var(--sw-accent); }
.sw-attr-frow { grid-template-columns: 4.5em minmax(0, 1fr) 4.5em 64px; }
.sw-attr-bar { display: block; height: 8px; border-radius: 2px; }
.sw-attr-bar.sw-up { background: var(--sw-promote); }
.sw-attr-bar.sw-down { background: var(--sw-suppress); }
.sw-attr-result { margin-top: 6px; }
.sw-attr-result ol { margin: 0; padding-left: 1.6em; }
.sw-attribution[data-busy] .sw-attr-tokens, .sw-attribution[data-busy] .sw-attr-rows { opacity: 0.6; }
.sw-attr-view { display: grid; gap: 8px; }
${divergingRules()}

/* compare */
.sw-compare { display: grid; gap: 8px; }
.sw-compare-texts { display: grid; gap: 8px; grid-template-columns: minmax(0, 1fr) minmax(0, 1fr); }
@media (max-width: 760px) { .sw-compare-texts { grid-template-columns: minmax(0, 1fr); } }
.sw-diff-row { grid-template-columns: 4.5em minmax(0, 1fr) 9em 6em 64px; }

/* explorer */
.sw-explorer { display: grid; gap: 8px; grid-template-columns: minmax(0, 1fr) minmax(0, 1fr); }
.sw-explorer > .sw-wide { grid-column: 1 / -1; }
@media (max-width: 760px) { .sw-explorer { grid-template-columns: minmax(0, 1fr); } }
.sw-title { display: flex; gap: 8px; align-items: baseline; flex-wrap: wrap; }
${heatRules()}
`;

/** Put the stylesheet into `doc` once (replaced when the bundle's version changes). */
export function ensureStyles(doc: Document = document): void {
  const existing = doc.getElementById(STYLE_ID);
  if (existing && existing.getAttribute("data-version") === VERSION) return;
  existing?.remove();
  const style = doc.createElement("style");
  style.id = STYLE_ID;
  style.setAttribute("data-version", VERSION);
  style.textContent = CSS;
  doc.head.appendChild(style);
}
