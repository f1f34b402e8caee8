"""Benchmarks 4 and 5: the front end.

4. **Heatmap recolour** in headless Chromium: the built bundle ``scope_widgets/static/widget.js``
   rendered into a static page with a fake anywidget model whose state is the real synced state of a
   ``TokenHeatmap`` (made by the Python widget, buffers as DataViews exactly as ipywidgets hands them
   over), at 500, 2,000, 8,000 and 32,000 tokens. Timed: setting the ``feature`` trait (as a click in the
   feature list does) through the recolour *and* the browser's style recalculation and layout (forced
   synchronously, split into JS / style / layout), median over 32 features x rounds; and the same change
   to the end of the next frame's main-thread work (paint recording included). Tokens scrolled out of
   view are skipped by the browser (``content-visibility: auto`` chunks) and are not in these times.
   Features with an exact column (the listed ones) and features known only from the top-k are timed
   separately; so is a rebuild on a new text (one message of new data traits, as after an edit). Target: under 8 ms at 2,000 tokens and
   under 16 ms (one frame) at 8,000.
5. **Slider to first steered token**, kernel side: a ``SteeringPanel`` on the embedded model gets a new
   coefficient (the trait change a slider makes once it reaches the kernel) and we time until the first
   steered text lands in its synced ``steered_text`` trait, against the model's own time to first token
   (``model.generate`` with a streamer, same prompt, greedy), interleaved, medians. The browser legs
   (websocket, DOM update) are not included: they are milliseconds next to a forward pass on the CPU.
   Target: at most 1.2x the model's time to first token + 50 ms.

Needs ``scope_widgets/widgets/`` and the built bundle; reports "pending widgets" (never a pass) until
they exist. Chromium: ``/usr/bin/chromium`` (``$SCOPE_WIDGETS_CHROMIUM`` overrides), never a
Playwright download.
"""

from __future__ import annotations

import base64
import os
import statistics
import threading
import time
from pathlib import Path

import numpy as np
import torch

from benchmarks.common import (
    REPO_ROOT,
    STATUS_MISSED,
    STATUS_OK,
    STATUS_PENDING,
    STATUS_SKIPPED,
    Result,
    fmt_s,
    log,
    long_text,
    median,
)

BUNDLE = REPO_ROOT / "scope_widgets" / "static" / "widget.js"
CHROMIUM_FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                  "--disable-sync", "--no-first-run"]
RECOLOUR_TARGETS_MS = {2000: 8.0, 8000: 16.0}  # tokens -> median recolour (half a frame, one frame)
RECOLOUR_LENGTHS = (500, 2000, 8000, 32000)
ORIGIN = "http://scope-widgets-bench.invalid"


def chromium_path() -> str | None:
    path = os.environ.get("SCOPE_WIDGETS_CHROMIUM", "/usr/bin/chromium")
    return path if Path(path).is_file() and os.access(path, os.X_OK) else None


def widgets_ready() -> tuple[bool, str]:
    if not BUNDLE.exists():
        return False, "scope_widgets/static/widget.js is not built"
    try:
        from scope_widgets.widgets import SteeringPanel, TokenHeatmap  # noqa: F401
    except Exception as err:  # noqa: BLE001 - anything that stops the import means "not there yet"
        return False, f"scope_widgets.widgets does not import ({type(err).__name__}: {err})"
    return True, "widgets present"


def pending(bench_id: str, title: str, target: str, why: str) -> Result:
    return Result(id=bench_id, title=title, target=target, status=STATUS_PENDING, headline=f"pending widgets: {why}")


# ---------------------------------------------------------------------------------------------- 4. recolour
def synthetic_activations(tokenizer, n: int, *, k: int = 32, d_in: int = 64, d_sae: int = 16384, seed: int = 0):
    """A real ``FeatureActivations`` of ``n`` real token strings with synthetic (random) top-k data: the
    front end's work depends on the sizes, not on what the features mean, and no model run is needed."""
    from scope_widgets import SAE
    from scope_widgets.features import FeatureActivations

    ids = tokenizer(long_text(n * 8 + 500), add_special_tokens=True)["input_ids"]
    while len(ids) < n:
        ids = ids + ids[1:]
    ids = ids[:n]
    tokens = tokenizer.batch_decode([[int(i)] for i in ids])
    rng = np.random.default_rng(seed)
    top_ids = rng.integers(0, d_sae, size=(n, k), dtype=np.int64).astype(np.int32)
    top_ids[:, :8] = rng.integers(0, 256, size=(n, 8))  # some features recur across tokens, as real ones do
    top_values = np.sort(rng.exponential(2.0, size=(n, k)).astype(np.float32), axis=1)[:, ::-1].copy()
    top_values[:, k // 2:] = 0  # about half the kept slots are inactive, as in a real JumpReLU SAE
    sae = SAE.random(d_in, d_sae, seed=seed, threshold=0.5)
    inputs = torch.randn(n, d_in, generator=torch.Generator().manual_seed(seed)) * 2
    max_per_feature = torch.zeros(d_sae)
    max_per_feature.scatter_reduce_(0, torch.from_numpy(top_ids.reshape(-1).astype(np.int64)),
                                    torch.from_numpy(top_values.reshape(-1)), reduce="amax")
    return FeatureActivations(text="", tokens=list(tokens), token_ids=np.asarray(ids, dtype=np.int64), top_ids=top_ids,
                              top_values=top_values, inputs=inputs, sae=sae, has_bos=True,
                              max_per_feature=max_per_feature)


def browser_state(widget) -> dict:
    """The widget's state as the browser receives it: JSON part plus base64 buffers and their paths."""
    from ipywidgets.widgets.widget import _remove_buffers

    state, paths, buffers = _remove_buffers(widget.get_state())
    state.pop("_esm", None)
    state.pop("_css", None)
    return {"state": state, "paths": paths,
            "buffers": [base64.b64encode(bytes(memoryview(b))).decode("ascii") for b in buffers]}


_PAGE = "<!doctype html><html><head><meta charset='utf-8'><title>scope_widgets bench</title></head>" \
        "<body><div id='host' style='width:900px'></div></body></html>"

_MEASURE_JS = r"""
async ({payload, featuresExact, featuresApprox, rounds, rebuildRounds}) => {
  class FakeModel {
    constructor(state) { this.state = state; this.handlers = new Map(); }
    get(name) { return this.state[name]; }
    set(name, value) { const old = this.state[name]; this.state[name] = value;
      if (old !== value) this.emit(`change:${name}`, this, value); }
    // what one message from the kernel does (Backbone's set of several traits): every value first, then
    // one change event per trait that changed
    setMany(values) { const changed = Object.keys(values).filter((k) => this.state[k] !== values[k]);
      Object.assign(this.state, values); for (const k of changed) this.emit(`change:${k}`, this, values[k]); }
    save_changes() {}
    on(ev, cb) { if (!this.handlers.has(ev)) this.handlers.set(ev, new Set()); this.handlers.get(ev).add(cb); }
    off(ev, cb) { if (ev == null) { this.handlers.clear(); return; }
      if (cb == null) this.handlers.delete(ev); else this.handlers.get(ev)?.delete(cb); }
    send() {}
    emit(ev, ...args) { for (const cb of [...(this.handlers.get(ev) ?? [])]) cb(...args); }
  }
  const state = payload.state;
  payload.paths.forEach((path, i) => {
    const bin = atob(payload.buffers[i]);
    const bytes = new Uint8Array(bin.length);
    for (let j = 0; j < bin.length; j++) bytes[j] = bin.charCodeAt(j);
    let obj = state;
    for (let p = 0; p < path.length - 1; p++) obj = obj[path[p]];
    obj[path[path.length - 1]] = new DataView(bytes.buffer);
  });
  const model = new FakeModel(state);
  const mod = await import("/widget.js");
  const widget = mod.default ?? mod;
  const host = document.getElementById("host");
  if (widget.initialize) await widget.initialize({model});
  const t0 = performance.now();
  const cleanup = await widget.render({model, el: host});
  host.getBoundingClientRect();
  const renderMs = performance.now() - t0;
  const tokenEls = () => host.querySelectorAll("[data-token-index]");
  const first = () => host.querySelector('[data-token-index="0"]');   // on screen: the list starts scrolled to the top
  const frame = () => new Promise((r) => requestAnimationFrame(() => setTimeout(r, 0)));
  // `change` inside a requestAnimationFrame callback, then a message posted from it: the message runs after
  // that frame's style, layout, pre-paint and paint (recording) on the main thread; raster and compositing
  // happen on other threads and are not in it.
  const toFrame = (change) => new Promise((resolve) => requestAnimationFrame(() => {
    const s = performance.now();
    change();
    const ch = new MessageChannel();
    ch.port1.onmessage = () => resolve(performance.now() - s);
    ch.port2.postMessage(0);
  }));
  // `change`, then what the next frame needs before it can paint, forced synchronously and split up:
  // JS (the handlers), style (recalc, forced by a visible token's computed style), layout.
  function sync(change) {
    const probe = first();
    const s = performance.now();
    change();
    const a = performance.now();
    getComputedStyle(probe.isConnected ? probe : first()).backgroundColor;
    const b = performance.now();
    host.getBoundingClientRect();
    const c = performance.now();
    return {total: c - s, js: a - s, style: b - a, layout: c - b};
  }
  async function time(features) {
    // feature after feature, as clicks in the feature list do; one pass timed synchronously, one to the frame
    const out = {total: [], js: [], style: [], layout: [], frame: []};
    for (let r = 0; r < rounds; r++) {
      for (const f of features) {
        await frame();
        const t = sync(() => model.set("feature", f));
        for (const key of ["total", "js", "style", "layout"]) out[key].push(t[key]);
      }
      for (const f of features) {
        await frame();
        out.frame.push(await toFrame(() => model.set("feature", f)));
      }
    }
    return out;
  }
  await frame();
  const exact = await time(featuresExact);
  const approx = await time(featuresApprox);
  // a new text of the same length, as an edit in the Explorer sends it: one message with new tokens, top-k
  // and exact columns (new objects, same sizes)
  const rebuild = {sync: [], frame: []};
  const copy = (v) => Array.isArray(v) ? [...v] : v instanceof DataView ? new DataView(v.buffer.slice(v.byteOffset, v.byteOffset + v.byteLength)) : v;
  const newText = () => Object.fromEntries(["tokens", "top_ids", "top_values", "column_ids", "columns"].map((k) => [k, copy(model.get(k))]));
  for (let r = 0; r < rebuildRounds; r++) {
    await frame();
    let next = newText();
    rebuild.sync.push(sync(() => model.setMany(next)).total);
    await frame();
    next = newText();
    rebuild.frame.push(await toFrame(() => model.setMany(next)));
  }
  const spans = tokenEls();
  const levels = new Set([...spans].map((s) => s.getAttribute("data-h")));
  if (typeof cleanup === "function") cleanup();
  return {n: spans.length, renderMs, exact, approx, rebuild, distinctLevels: levels.size};
}
"""


def measure_recolour(tokenizer, lengths=RECOLOUR_LENGTHS, *, rounds: int = 3, n_features: int = 32,
                     rebuild_rounds: int = 9, bundle: Path = BUNDLE) -> list[dict]:
    """Recolour timings per text length. Playwright's sync API refuses to start in a thread whose asyncio
    loop is running (a notebook, or pytest beside the browser tests), so it always runs in a thread of its own."""
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="recolour-bench") as pool:
        return pool.submit(_measure_recolour, tokenizer, lengths, rounds, n_features, rebuild_rounds, bundle).result()


def _measure_recolour(tokenizer, lengths, rounds: int, n_features: int, rebuild_rounds: int, bundle_path: Path) -> list[dict]:
    from playwright.sync_api import sync_playwright

    from scope_widgets.widgets import TokenHeatmap

    bundle = Path(bundle_path).read_bytes()
    med = statistics.median
    rows = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_FLAGS, headless=True)
        try:
            for n in lengths:
                acts = synthetic_activations(tokenizer, n)
                widget = TokenHeatmap(acts)
                payload = browser_state(widget)
                widget.close()
                exact = list(payload["state"]["column_ids"])[:n_features]
                listed = set(payload["state"]["column_ids"])
                approx = [int(f) for f in np.unique(acts.top_ids[:, :4]) if int(f) not in listed][:n_features]
                page = browser.new_page()
                errors: list[str] = []
                page.on("pageerror", lambda e: errors.append(str(e)))
                page.route(f"{ORIGIN}/", lambda route: route.fulfill(status=200, content_type="text/html", body=_PAGE))
                page.route(f"{ORIGIN}/widget.js", lambda route: route.fulfill(
                    status=200, content_type="text/javascript", body=bundle))
                page.goto(f"{ORIGIN}/")
                out = page.evaluate(_MEASURE_JS, {"payload": payload, "featuresExact": exact, "featuresApprox": approx,
                                                  "rounds": rounds, "rebuildRounds": rebuild_rounds})
                page.close()
                if errors:
                    raise RuntimeError(f"the page raised: {errors[:3]}")
                if out["n"] != n:
                    raise RuntimeError(f"the heatmap shows {out['n']} token elements, expected {n}")
                ex, ap, rb = out["exact"], out["approx"], out["rebuild"]
                row = {
                    "tokens": n,
                    "recolour (exact column)": med(ex["total"]),
                    "JS": med(ex["js"]),
                    "style": med(ex["style"]),
                    "layout": med(ex["layout"]),
                    "to the frame": med(ex["frame"]),
                    "recolour (top-k only)": med(ap["total"]) if ap["total"] else float("nan"),
                    "p90 (exact)": float(np.percentile(ex["total"], 90)),
                    "first render": out["renderMs"],
                    "rebuild (new tokens)": med(rb["sync"]) if rb["sync"] else float("nan"),
                    "rebuild to the frame": med(rb["frame"]) if rb["frame"] else float("nan"),
                    "samples": len(ex["total"]),
                    "heat levels seen": out["distinctLevels"],
                }
                rows.append(row)
                log(f"  [4] {n} tokens: recolour {row['recolour (exact column)']:.2f} ms (JS {row['JS']:.2f}, style "
                    f"{row['style']:.2f}, layout {row['layout']:.2f}; to the frame {row['to the frame']:.2f}; top-k only "
                    f"{row['recolour (top-k only)']:.2f}; p90 {row['p90 (exact)']:.2f}); first render "
                    f"{row['first render']:.0f} ms, rebuild {row['rebuild (new tokens)']:.1f} ms "
                    f"(to the frame {row['rebuild to the frame']:.1f} ms)")
        finally:
            browser.close()
    return rows


def recolour_targets_met(rows: list[dict]) -> bool:
    """Every target whose length was measured is met (a tiny run measures none of them: that is not a pass)."""
    checked = [r["recolour (exact column)"] < RECOLOUR_TARGETS_MS[r["tokens"]] for r in rows if r["tokens"] in RECOLOUR_TARGETS_MS]
    return bool(checked) and all(checked)


def run_recolour(subject=None, *, quick: bool = False) -> Result:
    title = "Front-end recolour (headless Chromium)"
    target = " and ".join(f"< {ms:g} ms at {n:,} tokens" for n, ms in RECOLOUR_TARGETS_MS.items())
    ready, why = widgets_ready()
    if not ready:
        return pending("4", title, target, why)
    if chromium_path() is None:
        return Result(id="4", title=title, target=target, status=STATUS_SKIPPED,
                      headline="skipped: no Chromium at /usr/bin/chromium (apt-get install chromium)")
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return Result(id="4", title=title, target=target, status=STATUS_SKIPPED,
                      headline="skipped: the playwright Python package is missing")
    tiny = bool(subject is not None and subject.tiny)
    tokenizer = subject.scope.tokenizer if subject is not None else None
    if tokenizer is None:
        from benchmarks.common import char_tokenizer

        tokenizer = char_tokenizer()
    lengths = (100, 500) if tiny else RECOLOUR_LENGTHS
    rows = measure_recolour(tokenizer, lengths, rounds=1 if tiny else 3, n_features=8 if tiny else 32,
                            rebuild_rounds=1 if tiny else 9)
    status = STATUS_OK if recolour_targets_met(rows) else STATUS_MISSED
    counts = ("tokens", "samples", "heat levels seen")
    pretty = [{k: (v if k in counts else f"{float(v):.2f} ms") for k, v in r.items()} for r in rows]
    by_n = {r["tokens"]: r for r in rows}
    shown = [by_n[n] for n in RECOLOUR_TARGETS_MS if n in by_n] or rows
    headline = "; ".join(f"{r['recolour (exact column)']:.2f} ms at {r['tokens']:,} tokens" for r in shown)
    others = [r for r in rows if r not in shown]
    if others:
        headline += " (" + ", ".join(f"{r['recolour (exact column)']:.2f} ms at {r['tokens']:,}" for r in others) + ")"
    longest = max(rows, key=lambda r: r["tokens"])
    rebuilt = by_n.get(8000, longest)
    headline += (f"; medians, to the frame incl. paint {shown[-1]['to the frame']:.2f} ms at {shown[-1]['tokens']:,}; "
                 f"rebuild on new tokens {rebuilt['rebuild to the frame']:.1f} ms to the frame at {rebuilt['tokens']:,}")
    return Result(
        id="4", title=title, target=target, status=status, headline=headline,
        columns=list(pretty[0]), rows=pretty,
        notes=["recolour = setting the `feature` trait (as a click in the feature list does), then what the next frame "
               "needs before it can paint, forced synchronously: JS (the trait handlers: recolour and legend), style "
               "(recalc, forced by the computed style of a token on screen) and layout (forced by the host's "
               "getBoundingClientRect). Medians over 32 features x 3 rounds, feature after feature, a frame between samples.",
               "to the frame = the same change made inside a requestAnimationFrame callback, timed to a message posted "
               "from it, which runs once that frame's main-thread work is done (style, layout, pre-paint, paint "
               "recording). Raster and compositing run on other threads and are in neither figure.",
               "Not included anywhere: style, layout and paint of tokens far from the view. The tokens sit in chunks "
               "of ~256 with content-visibility: auto; every token's `data-h` is written at once, but Chromium styles "
               "and lays out only the chunks within about half a window of the visible part (here ~1,000 tokens, "
               "whatever the length) and does the others when they come near: scrolling onto them pays their style, "
               "layout and paint in that frame (at 8,000 tokens, 300 px steps: median 2.8 ms, at most ~9 ms a frame; "
               "without chunks every other step repainted for ~13 ms).",
               "rebuild = a new text of the same length as the kernel sends it after an edit (one message: new tokens, "
               "top-k and exact columns; five change events): decode, build the token elements, recolour, style and "
               "layout of what is on screen; median of 9 (to the frame: the honest one, as "
               "the chunks coming into view are laid out in that frame). first render = the widget's first render "
               "to layout (one sample, cold).",
               "Real TokenHeatmap state (k=32, 64 exact columns), synthetic activations over real Gemma token strings; "
               "the widget is 900 px wide and shows about 12 lines at a time (its own scroll box).",
               "top-k only = a feature with no exact column: the browser rebuilds it from the top-k data and asks "
               "the kernel for the exact one (the reply is not part of this timing).",
               f"Chromium {chromium_path()} with {' '.join(CHROMIUM_FLAGS)}."],
        config={"raw": rows},
    )


# ---------------------------------------------------------------------------------------------- 5. round trip
class _WithoutDashboards:
    """The scope, minus ``dashboard``: keeps SteeringPanel's one-off background prefetch of slider ranges
    (a corpus pass per feature) from running under the timings."""

    def __init__(self, scope) -> None:
        self._scope = scope

    def __getattr__(self, name):
        if name == "dashboard":
            raise AttributeError(name)
        return getattr(self._scope, name)


class _FirstTokenTimer:
    """A transformers streamer that records when the first new token arrives."""

    def __init__(self) -> None:
        self.calls = 0
        self.first_at: float | None = None

    def put(self, value) -> None:
        self.calls += 1
        if self.calls == 2 and self.first_at is None:  # the first put is the prompt
            self.first_at = time.perf_counter()

    def end(self) -> None:
        pass


def measure_round_trip(scope, *, rounds: int = 7, new_tokens: int = 8, timeout: float = 300.0) -> dict:
    from benchmarks.generation import PROMPT, pick_feature
    from scope_widgets.steering import sampling_kwargs
    from scope_widgets.widgets import SteeringPanel

    feature = pick_feature(scope)
    ids = scope.tokenizer(PROMPT, add_special_tokens=True)["input_ids"]
    input_ids = torch.tensor([ids], device=scope.device)
    kwargs = dict(input_ids=input_ids, attention_mask=torch.ones_like(input_ids),
                  **sampling_kwargs(scope.tokenizer, 1, 0.0))

    def model_ttft() -> float:
        timer = _FirstTokenTimer()
        t0 = time.perf_counter()
        with torch.no_grad():
            scope.model.generate(**kwargs, streamer=timer)
        return (timer.first_at or time.perf_counter()) - t0

    def engine_ttft(coefficient: float) -> float:
        t0 = time.perf_counter()
        stream = scope.stream(PROMPT, steer={feature: coefficient}, method="add", max_new_tokens=new_tokens)
        for _ in stream:
            first = time.perf_counter() - t0
            stream.cancel()
            break
        else:
            first = time.perf_counter() - t0
        return first

    panel = SteeringPanel(_WithoutDashboards(scope), PROMPT, features=[feature], max_new_tokens=new_tokens,
                          auto_generate=False)
    arrived = threading.Event()
    first: dict[str, float] = {}

    def on_steered(change) -> None:
        if change["new"] and "t" not in first:
            first["t"] = time.perf_counter()
            arrived.set()

    panel.observe(on_steered, names=["steered_text"])
    panel.generate(wait=True, timeout=timeout)  # the baseline, cached per prompt and settings, as after the first slider move

    def slider(coefficient: float) -> float:
        panel.wait(timeout)
        first.clear()
        arrived.clear()
        t0 = time.perf_counter()
        panel.coefficients = {feature: coefficient}  # what a slider's change does once it reaches the kernel
        if not arrived.wait(timeout):
            raise TimeoutError("no steered text arrived")
        latency = first["t"] - t0
        panel.wait(timeout)
        return latency

    model_ttft(), engine_ttft(3.0), slider(3.0)  # warm-up
    samples = {"model": [], "engine": [], "panel": []}
    for r in range(rounds):
        coefficient = 4.0 + 0.5 * r
        steps = [("model", model_ttft), ("engine", lambda: engine_ttft(coefficient)), ("panel", lambda: slider(coefficient))]
        steps = steps[r % 3:] + steps[: r % 3]
        for name, fn in steps:
            samples[name].append(fn())
    panel.close()
    return {"feature": feature, "prompt_tokens": len(ids), "new_tokens": new_tokens, "rounds": rounds,
            "samples": samples,
            "model_s": median(samples["model"]), "engine_s": median(samples["engine"]), "panel_s": median(samples["panel"]),
            "panel_vs_model": median([p / m for p, m in zip(samples["panel"], samples["model"])])}


def run_round_trip(subject=None, *, quick: bool = False) -> Result:
    title = "Slider to first steered token (kernel side)"
    target = "<= 1.2x the model's time to first token + 50 ms"
    ready, why = widgets_ready()
    if not ready:
        return pending("5", title, target, why)
    tiny = bool(subject.tiny)
    m = measure_round_trip(subject.scope, rounds=3 if tiny else (5 if quick else 9), new_tokens=4 if tiny else 8)
    limit = 1.2 * m["model_s"] + 0.050
    status = STATUS_OK if m["panel_s"] <= limit else STATUS_MISSED
    log(f"  [5] model TTFT {fmt_s(m['model_s'])}, engine steered TTFT {fmt_s(m['engine_s'])}, "
        f"slider -> first steered text {fmt_s(m['panel_s'])} (limit {fmt_s(limit)})")
    rows = [
        {"path": "model.generate, first token (streamer)", "median": fmt_s(m["model_s"]),
         "samples": ", ".join(fmt_s(x) for x in m["samples"]["model"])},
        {"path": "scope.stream steered, first piece", "median": fmt_s(m["engine_s"]),
         "samples": ", ".join(fmt_s(x) for x in m["samples"]["engine"])},
        {"path": "SteeringPanel coefficient change -> steered_text", "median": fmt_s(m["panel_s"]),
         "samples": ", ".join(fmt_s(x) for x in m["samples"]["panel"])},
    ]
    return Result(
        id="5", title=title, target=target, status=status,
        headline=(f"{fmt_s(m['panel_s'])} from the coefficient change to the first steered text vs the model's "
                  f"{fmt_s(m['model_s'])} to first token (limit 1.2x + 50 ms = {fmt_s(limit)}; per-round ratio "
                  f"{m['panel_vs_model']:.2f}x)"),
        columns=["path", "median", "samples"], rows=rows,
        notes=[f"prompt of {m['prompt_tokens']} tokens, greedy, steering feature {m['feature']} (add), baseline already "
               "cached (as after the first slider move); interleaved rounds, wall-clock medians.",
               "kernel side only: the browser's legs (websocket both ways, DOM update) are not in these times.",
               f"subject: {subject.description}"],
        config={"raw": m},
    )
