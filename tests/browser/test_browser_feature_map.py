"""The feature map (plotly FigureWidget) next to an Explorer, on the embedded default, in JupyterLab.

A real mouse click on a point of the map selects that feature in the Explorer (its dashboard heading shows
it; ``ex.selected_feature`` in the kernel); a feature chosen in the Explorer (from code, or by a click in
its feature list) moves the map's ring onto that feature's point. The click-to-dashboard time is printed
(docs/feature_map.md quotes it). With SCOPE_WIDGETS_SCREENSHOT_DIR=docs the map and the Explorer are
saved as docs/feature_map.png.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

pytestmark = [pytest.mark.browser, pytest.mark.slow]

TEXT = "The Eiffel Tower is in Paris, the capital of France. It was finished in 1889."

SETUP_CELL = f"""
import numpy as np, ipywidgets as W
import scope_widgets as sw
scope = sw.Scope.load()
ex = sw.Explorer(scope, {TEXT!r})
fmap = sw.FeatureMap(scope, explorer=ex, width=620, height=600)
fmap.layout = W.Layout(flex="0 0 auto")
ex.layout = W.Layout(flex="1 1 auto", min_width="0")

def isolated_point(exclude=()):
    '''A feature of the first trace whose point has no other within the widest gap (a click lands on it).'''
    xy = fmap.positions
    ids = fmap.feature_ids[0]
    lo, hi = np.percentile(xy, 10, axis=0), np.percentile(xy, 90, axis=0)
    inside = ids[((xy[ids] > lo) & (xy[ids] < hi)).all(1)]
    inside = inside[~np.isin(inside, list(exclude))]
    cand = np.random.default_rng(0).choice(inside, size=min(1500, len(inside)), replace=False)
    d = ((xy[cand, None, :] - xy[None, :, :]) ** 2).sum(-1)
    d[np.arange(len(cand)), cand] = np.inf
    return int(cand[np.argmax(d.min(1))])
"""

SHOW_CELL = """
W.HBox([fmap, ex], layout=W.Layout(align_items="flex-start", width="100%"))
"""

# the map's plotly graph div; the pixel of a data point on it
_JS_PLOT = "() => { const gd = document.querySelector('.js-plotly-plot'); return !!(gd && gd._fullLayout && gd.data && gd.data.length > 1 && gd.querySelector('canvas')); }"
_JS_PIXEL = """
([x, y]) => {
  const gd = document.querySelector('.js-plotly-plot');
  const xa = gd._fullLayout.xaxis, ya = gd._fullLayout.yaxis, r = gd.getBoundingClientRect();
  return [r.left + xa._offset + xa.l2p(x), r.top + ya._offset + ya.l2p(y)];
}
"""
_JS_RING = "() => { const gd = document.querySelector('.js-plotly-plot'); const t = gd.data[gd.data.length - 1]; return [Array.from(t.x || []), Array.from(t.y || [])]; }"
_JS_HEADING = """
(id) => {
  const h = [...document.querySelectorAll('.sw-dash h3')].find(e => e.textContent.startsWith('Feature #' + id));
  if (h && !window.__swShown) window.__swShown = performance.now();
  return !!h;
}
"""


@pytest.fixture(scope="module")
def mapped(lab, write_notebook, widgets_built):
    path = write_notebook("feature_map.ipynb", [SETUP_CELL, SHOW_CELL])
    lab.open(path, ui="lab")
    lab.run_all(timeout=600)
    lab.page.wait_for_function(_JS_PLOT, timeout=60_000)
    lab.wait_for("[data-token-index]", timeout=60, within=lab.cell_output(1))
    return lab


def _ring(lab):
    return lab.page.evaluate(_JS_RING)


def _position(lab, feature):
    return lab.eval(f"[float(v) for v in fmap.positions[{feature}]]")


def _close(a, b, tol=1e-3):
    return len(a) == len(b) and all(abs(float(x) - float(y)) < tol for x, y in zip(a, b))


def test_click_on_the_map_selects_the_feature_in_the_explorer(mapped):
    lab, page = mapped, mapped.page
    start = lab.eval("ex.selected_feature")
    target = lab.eval(f"isolated_point(exclude=[{start}])")
    x, y = _position(lab, target)
    page.locator(".js-plotly-plot").first.scroll_into_view_if_needed()
    px, py = page.evaluate(_JS_PIXEL, [x, y])
    page.mouse.move(px, py)
    time.sleep(0.3)  # plotly finds the point under the mouse on hover; the click reports that point
    page.evaluate("() => { window.__swShown = 0; window.__swClick = performance.now(); }")
    page.mouse.click(px, py)
    page.wait_for_function(_JS_HEADING, arg=target, timeout=15_000, polling="raf")
    latency = page.evaluate("() => window.__swShown - window.__swClick")
    print(f"\nclick on the map -> the Explorer's dashboard heading shows feature {target}: {latency:.0f} ms")
    assert lab.wait_eval("ex.selected_feature", lambda v: v == target) == target
    assert lab.eval("fmap.selected_feature") == target
    deadline = time.monotonic() + 10
    while not (_close(_ring(lab)[0], [x]) and _close(_ring(lab)[1], [y])):
        assert time.monotonic() < deadline, f"the ring did not move onto feature {target}: {_ring(lab)}"
        time.sleep(0.1)


def test_the_ring_follows_the_explorer(mapped):
    lab, page = mapped, mapped.page
    # from code
    lab.run_code("ex.selected_feature = 1234")
    want = _position(lab, 1234)
    deadline = time.monotonic() + 10
    while not (_close(_ring(lab)[0], want[:1]) and _close(_ring(lab)[1], want[1:])):
        assert time.monotonic() < deadline, f"the ring did not move to feature 1234: {_ring(lab)} vs {want}"
        time.sleep(0.1)
    title = page.evaluate("() => document.querySelector('.js-plotly-plot')._fullLayout.title.text")
    assert "feature 1234" in title

    # from a click in the Explorer's feature list (browser -> kernel -> map -> browser)
    rows = lab.cell_output(1).locator("[data-feature-id]:not(input)")
    ids = rows.evaluate_all("els => els.map(e => +e.dataset.featureId)")
    target = next(i for i in ids if i != 1234)
    rows.and_(page.locator(f'[data-feature-id="{target}"]')).first.click(position={"x": 8, "y": 8})
    want = _position(lab, target)
    deadline = time.monotonic() + 15
    while not (_close(_ring(lab)[0], want[:1]) and _close(_ring(lab)[1], want[1:])):
        assert time.monotonic() < deadline, f"the ring did not follow the feature list to {target}: {_ring(lab)}"
        time.sleep(0.1)
    assert lab.eval("fmap.selected_feature") == target


@pytest.mark.skipif(not os.environ.get("SCOPE_WIDGETS_SCREENSHOT_DIR"), reason="set SCOPE_WIDGETS_SCREENSHOT_DIR")
def test_screenshot_for_docs(mapped):
    """SCOPE_WIDGETS_SCREENSHOT_DIR=docs ./scripts/test tests/browser/test_browser_feature_map.py -> docs/feature_map.png"""
    out = Path(os.environ["SCOPE_WIDGETS_SCREENSHOT_DIR"])
    out.mkdir(parents=True, exist_ok=True)
    page = mapped.page
    area = mapped.cell_output(1).locator(".jp-OutputArea-output").first
    size = page.viewport_size
    page.set_viewport_size({"width": 1500, "height": 1100})
    try:
        area.evaluate("e => e.scrollIntoView({block: 'start'})")  # taller than the page: its top in view
        time.sleep(1.0)
        box = area.bounding_box()
        # the map and the top of the Explorer beside it (its dashboard runs on far below)
        page.screenshot(path=str(out / "feature_map.png"),
                        clip={"x": box["x"], "y": max(box["y"], 0), "width": box["width"], "height": min(box["height"], 680)})
    finally:
        page.set_viewport_size(size)
