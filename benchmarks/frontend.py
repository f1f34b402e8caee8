"""Benchmarks 4 and 5: the front end.

4. **Heatmap recolour** in headless Chromium: the built bundle ``scope_widgets/static/widget.js``
   rendered into a static page with a fake anywidget model whose state is the real synced state of a
   ``TokenHeatmap`` (made by the Python widget, buffers as DataViews exactly as ipywidgets hands them
   over), at 500, 2,000 and 8,000 tokens. Timed: setting the ``feature`` trait (as a click in the
   feature list does) through the recolour *and* the browser's style recalculation and layout (forced
   synchronously), median over 32 features x rounds. Paint/compositing is not included. Features with an
   exact column (the listed ones) and features known only from the top-k are timed separately.
   Target: under 16 ms at 2,000 tokens (one frame).
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
import json
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
RECOLOUR_TARGET_MS = 16.0
RECOLOUR_LENGTHS = (500, 2000, 8000)
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
async ({payload, featuresExact, featuresApprox, rounds}) => {
  class FakeModel {
    constructor(state) { this.state = state; this.handlers = new Map(); }
    get(name) { return this.state[name]; }
    set(name, value) { const old = this.state[name]; this.state[name] = value;
      if (old !== value) this.emit(`change:${name}`, this, value); }
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
  const spans = host.querySelectorAll("[data-token-index]");
  const last = spans[spans.length - 1];
  const heat = host.querySelector(".sw-heatmap");
  const frame = () => new Promise((r) => requestAnimationFrame(() => setTimeout(r, 0)));
  async function time(features) {
    const total = [], js = [];
    for (let r = 0; r < rounds; r++) {
      for (const f of features) {
        await frame();
        const s = performance.now();
        model.set("feature", f);
        host.getBoundingClientRect();               // layout
        getComputedStyle(last).backgroundColor;      // style recalc of the recoloured spans
        total.push(performance.now() - s);
        js.push(Number(heat?.getAttribute("data-recolor-ms") ?? NaN));
      }
    }
    return {total, js};
  }
  await frame();
  const exact = await time(featuresExact);
  const approx = await time(featuresApprox);
  const levels = new Set([...spans].map((s) => s.getAttribute("data-h")));
  if (typeof cleanup === "function") cleanup();
  return {n: spans.length, renderMs, exact, approx, distinctLevels: levels.size};
}
"""


def measure_recolour(tokenizer, lengths=RECOLOUR_LENGTHS, *, rounds: int = 3, n_features: int = 32) -> list[dict]:
    """Recolour timings per text length. Playwright's sync API refuses to start in a thread whose asyncio
    loop is running (a notebook, or pytest beside the browser tests), so it always runs in a thread of its own."""
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="recolour-bench") as pool:
        return pool.submit(_measure_recolour, tokenizer, lengths, rounds, n_features).result()


def _measure_recolour(tokenizer, lengths, rounds: int, n_features: int) -> list[dict]:
    from playwright.sync_api import sync_playwright

    from scope_widgets.widgets import TokenHeatmap

    bundle = BUNDLE.read_bytes()
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
                out = page.evaluate(_MEASURE_JS, {"payload": payload, "featuresExact": exact,
                                                  "featuresApprox": approx, "rounds": rounds})
                page.close()
                if errors:
                    raise RuntimeError(f"the page raised: {errors[:3]}")
                if out["n"] != n:
                    raise RuntimeError(f"the heatmap shows {out['n']} token elements, expected {n}")
                row = {
                    "tokens": n,
                    "recolour (exact column)": statistics.median(out["exact"]["total"]),
                    "of which JS": statistics.median(out["exact"]["js"]),
                    "recolour (top-k only)": statistics.median(out["approx"]["total"]) if out["approx"]["total"] else float("nan"),
                    "p90 (exact)": float(np.percentile(out["exact"]["total"], 90)),
                    "first render": out["renderMs"],
                    "samples": len(out["exact"]["total"]),
                    "heat levels seen": out["distinctLevels"],
                }
                rows.append(row)
                log(f"  [4] {n} tokens: recolour {row['recolour (exact column)']:.2f} ms (JS {row['of which JS']:.2f} ms, "
                    f"top-k only {row['recolour (top-k only)']:.2f} ms, p90 {row['p90 (exact)']:.2f} ms); "
                    f"first render {row['first render']:.0f} ms")
        finally:
            browser.close()
    return rows


def run_recolour(subject=None, *, quick: bool = False) -> Result:
    title, target = "Front-end recolour (headless Chromium)", f"< {RECOLOUR_TARGET_MS:g} ms at 2,000 tokens"
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
    rows = measure_recolour(tokenizer, lengths, rounds=1 if tiny else 3, n_features=8 if tiny else 32)
    at = min(rows, key=lambda r: abs(r["tokens"] - 2000))
    status = STATUS_OK if at["recolour (exact column)"] < RECOLOUR_TARGET_MS else STATUS_MISSED
    pretty = [{k: (f"{v:.2f} ms" if isinstance(v, float) else v) for k, v in r.items()} for r in rows]
    return Result(
        id="4", title=title, target=target, status=status,
        headline=f"{at['recolour (exact column)']:.2f} ms at {at['tokens']} tokens (median; JS alone {at['of which JS']:.2f} ms); "
                 + ", ".join(f"{r['recolour (exact column)']:.2f} ms at {r['tokens']}" for r in rows if r is not at),
        columns=list(pretty[0]), rows=pretty,
        notes=["time from setting the `feature` trait to recoloured spans with style and layout recomputed (forced "
               "synchronously); paint not included. Real TokenHeatmap state (k=32, 64 exact columns), synthetic "
               "activations over real Gemma token strings; a frame between samples.",
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
