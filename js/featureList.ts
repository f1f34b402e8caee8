/**
 * FeatureList: the top features of the text, or of one token, as focusable rows.
 *
 * Rows: `div[role=button][data-feature-id]` with id, label, activation and a sparkline over
 * the tokens. Click / Enter / Space selects (sets `<featureTrait>` locally, so a heatmap on
 * the same model recolours at once); arrows move; a filter box narrows by id or label; a
 * "steer" button per row hands the feature to the steering panel.
 *
 * Traits: `<featureTrait>` (int | null), `<positionTrait>` (int | null: null = whole text),
 * `labels`, and the activation data (see store.ts).
 */
import { scaleMax } from "./colors";
import { fmt, h, listen, replaceChildren, tokenLabel } from "./dom";
import { commit, getOptInt, getString, onChange } from "./traits";
import { sparkline } from "./sparkline";
import { type ActData, DATA_TRAITS, rankedAt, storeFor, tierClass } from "./store";
import type { View, WidgetModel } from "./types";

export interface FeatureListOptions {
  featureTrait?: string;
  positionTrait?: string;
  /** what the per-row steer button does; no button when absent */
  onSteer?: ((feature: number) => void) | null;
  /** whether the steer buttons show (checked on every render) */
  canSteer?: () => boolean;
  title?: string;
}

export interface FeatureRowData {
  id: number;
  value: number;
  /** one of the clicked token's word's features (its label names the word) */
  word?: boolean;
  /** not the word's, but one of the features that stand out in the whole text */
  text?: boolean;
}

/** Whether a feature matches the filter text: `#12`/`12` by id prefix, words by label. */
export function matchesFilter(query: string, id: number, label: string | undefined): boolean {
  const q = query.trim().toLowerCase();
  if (!q) return true;
  const idq = q.startsWith("#") ? q.slice(1) : q;
  if (/^\d+$/.test(idq) && String(id).startsWith(idq)) return true;
  if (q.startsWith("#")) return false;
  const l = (label ?? "").toLowerCase();
  return q.split(/\s+/).every((word) => l.includes(word) || String(id) === word);
}

export type Ranking = "standout" | "strongest";

/**
 * The rows to list: the text's features (exact columns), or the top-k of one token.
 * For the text, `standout` keeps the kernel's order (features that fire on more of this text's tokens than
 * their usual rate predicts); `strongest` sorts by the maximum activation in the text. For a token,
 * `standout` lists the features of its word first (see `rankedAt`), `strongest` by activation.
 */
export function listRows(d: ActData, position: number | null, ranking: Ranking = "strongest"): FeatureRowData[] {
  if (position !== null && position >= 0 && position < d.n) {
    return rankedAt(d, position, ranking === "standout");
  }
  const rows = d.columnIds.map((id) => ({ id, value: scaleMax(d.columns.get(id) ?? [], d.hasBos) }));
  if (ranking === "strongest") rows.sort((a, b) => b.value - a.value);
  return rows.filter((r) => r.value > 0);
}

export function createFeatureList(model: WidgetModel, opts: FeatureListOptions = {}): View {
  const featureTrait = opts.featureTrait ?? "selected_feature";
  const positionTrait = opts.positionTrait ?? "position";
  const store = storeFor(model);

  const title = h("h3", { class: "sw-flist-title" });
  const wholeText = h("button", {
    class: "sw-whole",
    text: "whole text",
    attrs: { type: "button", title: "Show the top features of the whole text" },
  });
  const rankBy = h("button", {
    class: "sw-rank",
    attrs: {
      type: "button",
      "data-role": "ranking",
      title: "Switch between the features that stand out (in the text, or of the clicked token's word) and the strongest ones",
    },
  });
  const filter = h("input", {
    class: "sw-filter",
    attrs: {
      type: "search",
      placeholder: "filter by id or label",
      "aria-label": "Filter features by id or label",
      autocomplete: "off",
      spellcheck: "false",
    },
  });
  const rowsEl = h("div", { class: "sw-rows", attrs: { role: "list", "aria-label": "Features" } });
  const empty = h("div", { class: "sw-dim", attrs: { hidden: true } });
  const el = h(
    "div",
    { class: "sw-flist" },
    h("div", { class: "sw-flist-head" }, title, rankBy, wholeText),
    filter,
    rowsEl,
    empty,
  );

  let data: ActData | null = null;
  let rowEls: HTMLElement[] = [];
  let activeId: number | null = null;

  function rowOf(target: EventTarget | null): HTMLElement | null {
    return target instanceof Element ? (target.closest(".sw-frow") as HTMLElement | null) : null;
  }
  function idOf(row: HTMLElement): number {
    return Number(row.getAttribute("data-feature-id"));
  }
  function visibleRows(): HTMLElement[] {
    return rowEls.filter((r) => !(r.parentElement as HTMLElement).hidden);
  }

  function setActive(row: HTMLElement | null, focus: boolean): void {
    for (const r of rowEls) r.setAttribute("tabindex", r === row ? "0" : "-1");
    activeId = row ? idOf(row) : null;
    if (row && focus) {
      row.focus();
      if (typeof row.scrollIntoView === "function") row.scrollIntoView({ block: "nearest" });
    }
  }

  function ensureTabStop(): void {
    const vis = visibleRows();
    if (!vis.length) return;
    const current = vis.find((r) => idOf(r) === activeId);
    const selected = vis.find((r) => r.getAttribute("aria-pressed") === "true");
    setActive(current ?? selected ?? vis[0], false);
  }

  function applyFilter(): void {
    const q = filter.value;
    const labels = store.labels();
    let shown = 0;
    for (const row of rowEls) {
      const id = idOf(row);
      const hide = !matchesFilter(q, id, labels.get(id));
      (row.parentElement as HTMLElement).hidden = hide;
      if (!hide) shown++;
    }
    empty.hidden = shown > 0;
    empty.textContent = rowEls.length === 0 ? "No active features." : `No feature matches “${q.trim()}”.`;
    ensureTabStop();
  }

  function applySelection(): void {
    const f = getOptInt(model, featureTrait);
    for (const r of rowEls) r.setAttribute("aria-pressed", idOf(r) === f ? "true" : "false");
  }

  function spark(id: number, position: number | null): SVGSVGElement {
    const d = data as ActData;
    const col = store.column(id, false);
    return sparkline(col.values, { skipFirst: d.hasBos, mark: position });
  }

  function render(): void {
    try {
      data = store.data();
    } catch (e) {
      data = null;
      rowEls = [];
      replaceChildren(rowsEl, h("div", { class: "sw-error", text: `Cannot list features: ${String(e)}` }));
      return;
    }
    const d = data;
    const position = getOptInt(model, positionTrait);
    const atToken = position !== null && position >= 0 && position < d.n;
    const ranking: Ranking = getString(model, "ranking", "standout") === "strongest" ? "strongest" : "standout";
    const word = atToken ? tokenLabel(d.tokens[position as number]) : "";
    title.textContent = atToken
      ? ranking === "standout"
        ? `Token ${position} “${word}”: its word's features, then the text's`
        : `Token ${position} “${word}”: strongest features`
      : ranking === "standout"
        ? "Features that stand out in the text"
        : "Strongest features of the text";
    wholeText.hidden = !atToken;
    rankBy.textContent =
      ranking === "standout" ? "show strongest" : atToken ? "show its word's and the text's features first" : "show what stands out";
    rankBy.setAttribute("aria-label", rankBy.textContent);
    const labels = store.labels();
    const steerable = !!opts.onSteer && (opts.canSteer ? opts.canSteer() : true);
    const rows = listRows(d, atToken ? position : null, ranking);
    rowEls = [];
    const items = rows.map(({ id, value, word: ofWord, text: ofText }) => {
      const label = labels.get(id);
      const row = h(
        "div",
        {
          class: "sw-frow",
          attrs: {
            role: "button",
            tabindex: "-1",
            "data-feature-id": id,
            "aria-pressed": "false",
            "aria-label": `Feature ${id}${label ? `: ${label}` : ""}, activation ${fmt(value)}${
              ofWord ? ", a feature of this word" : ofText ? ", stands out in this text" : ""
            }`,
            "aria-keyshortcuts": steerable ? "S" : null,
          },
        },
        h("span", {
          class: "sw-fid" + (ranking === "standout" ? tierClass({ word: ofWord, text: ofText }) : ""),
          text: `#${id}`,
          attrs: {
            title: ofWord
              ? `Usually fires on “${word.trim()}” (or its label names it)`
              : ofText
                ? "Stands out in the whole text"
                : null,
          },
        }),
        h("span", { class: "sw-flabel" + (label ? "" : " sw-dim"), text: label ?? "unlabelled", attrs: { title: label ?? null } }),
        h("span", { class: "sw-fval", text: fmt(value) }),
        spark(id, atToken ? position : null),
      );
      rowEls.push(row);
      const steer = steerable
        ? h("button", {
            class: "sw-steer-btn",
            text: "steer",
            attrs: {
              type: "button",
              tabindex: "-1",
              "data-steer-feature": id,
              "aria-label": `Add feature ${id} to steering`,
              title: "Add to the steering panel",
            },
          })
        : null;
      return h("div", { class: "sw-item", attrs: { role: "listitem" } }, row, steer);
    });
    replaceChildren(rowsEl, ...items);
    applySelection();
    applyFilter();
  }

  function select(row: HTMLElement): void {
    setActive(row, false);
    commit(model, { [featureTrait]: idOf(row) });
  }

  function steer(id: number): void {
    if (opts.onSteer) opts.onSteer(id);
  }

  function onKey(ev: KeyboardEvent): void {
    const target = ev.target as HTMLElement;
    if (target.classList.contains("sw-steer-btn")) {
      if (ev.key === "ArrowLeft") {
        ev.preventDefault();
        const row = target.parentElement?.querySelector(".sw-frow") as HTMLElement | null;
        if (row) setActive(row, true);
      }
      return;
    }
    const row = rowOf(target);
    if (!row) return;
    const vis = visibleRows();
    const at = vis.indexOf(row);
    let next: HTMLElement | undefined;
    switch (ev.key) {
      case "ArrowDown":
        next = vis[Math.min(vis.length - 1, at + 1)];
        break;
      case "ArrowUp":
        next = vis[Math.max(0, at - 1)];
        break;
      case "Home":
        next = vis[0];
        break;
      case "End":
        next = vis[vis.length - 1];
        break;
      case "Enter":
      case " ":
      case "Spacebar":
        ev.preventDefault();
        select(row);
        return;
      case "ArrowRight": {
        const btn = row.parentElement?.querySelector(".sw-steer-btn") as HTMLElement | null;
        if (btn) {
          ev.preventDefault();
          btn.focus();
        }
        return;
      }
      case "s":
      case "S":
        if (opts.onSteer) {
          ev.preventDefault();
          steer(idOf(row));
        }
        return;
      default:
        return;
    }
    ev.preventDefault();
    if (next) setActive(next, true);
  }

  const cleanups: Array<() => void> = [
    listen(rowsEl, "click", (ev) => {
      const t = ev.target as Element;
      const btn = t.closest ? (t.closest(".sw-steer-btn") as HTMLElement | null) : null;
      if (btn) {
        steer(Number(btn.getAttribute("data-steer-feature")));
        return;
      }
      const row = rowOf(t);
      if (row) select(row);
    }),
    listen(rowsEl, "keydown", onKey),
    listen(rowsEl, "focusin", (ev) => {
      const row = rowOf(ev.target);
      if (row && idOf(row) !== activeId) setActive(row, false);
    }),
    listen(filter, "input", applyFilter),
    listen(filter, "keydown", (ev) => {
      if (ev.key === "ArrowDown") {
        const first = visibleRows()[0];
        if (first) {
          ev.preventDefault();
          setActive(first, true);
        }
      } else if (ev.key === "Escape" && filter.value) {
        ev.preventDefault();
        filter.value = "";
        applyFilter();
      }
    }),
    listen(wholeText, "click", () => commit(model, { [positionTrait]: null })),
    listen(rankBy, "click", () =>
      commit(model, { ranking: getString(model, "ranking", "standout") === "strongest" ? "standout" : "strongest" }),
    ),
    onChange(model, [...DATA_TRAITS, positionTrait, "labels", "can_steer", "ranking"], render),
    onChange(model, [featureTrait], applySelection),
    store.subscribe((f) => {
      // an exact column arrived: redraw that row's sparkline
      const row = rowEls.find((r) => idOf(r) === f);
      const old = row?.querySelector(".sw-spark");
      if (row && old && data) row.replaceChild(spark(f, getOptInt(model, positionTrait)), old);
    }),
  ];

  render();

  return {
    el,
    destroy() {
      for (const c of cleanups) c();
    },
  };
}
