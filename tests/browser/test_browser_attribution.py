"""The attribution view in JupyterLab on the embedded default: choose a target, see the attribution
heatmap, ablate a feature, see the probabilities change; and the Explorer's "why this next token?" panel.

DOM (docs/widgets.md, "Attribution"): tokens [data-role=attr-token][data-attr-index] with data-a (-10..10),
predictions [data-role=prediction][data-token] with [data-action=target|contrast] buttons, features
[data-role=attr-feature][data-attr-feature] with [data-role=ablate-select] boxes, [data-role=ablate],
[data-role=ablation-result] with [data-side=before|after].
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

pytestmark = [pytest.mark.browser, pytest.mark.slow]

TEXT = "The Eiffel Tower is in the city of"

VIEW_CELL = f"""
import scope_widgets as sw
scope = sw.Scope.load()
view = sw.AttributionView(scope, {TEXT!r}, target=" Paris")
view
"""

EXPLORER_CELL = f"""
ex = sw.Explorer(scope, {TEXT!r})
ex
"""


@pytest.fixture(scope="module")
def notebook(lab, write_notebook, widgets_built):
    path = write_notebook("attribution.ipynb", [VIEW_CELL, EXPLORER_CELL])
    lab.open(path, ui="lab")
    lab.run_all(timeout=600)
    lab.wait_for("[data-role=attr-feature]", timeout=60, within=lab.cell_output(0))
    return lab


def _levels(lab) -> list[int]:
    return lab.cell_output(0).locator("[data-role=attr-token]").evaluate_all("els => els.map(e => +e.dataset.a)")


def test_target_heatmap_ablation_round_trip(notebook):
    lab = notebook
    out = lab.cell_output(0)
    summary = out.locator("[data-role=attr-summary]")
    assert "Paris" in summary.text_content() and "p =" in summary.text_content()
    levels = _levels(lab)
    assert any(v > 0 for v in levels) and any(v < 0 for v in levels), f"a diverging heatmap, got {levels}"
    assert out.locator('[data-role=attr-token][aria-current="true"]').count() == 1

    # choose another target among the predictions: the kernel recomputes and the summary follows
    other = out.locator("[data-role=prediction]").first
    token = other.get_attribute("data-token")
    if token == " Paris":
        other = out.locator("[data-role=prediction]").nth(1)
        token = other.get_attribute("data-token")
    other.locator("[data-action=target]").click()
    lab.wait_eval("view.attr_target", lambda v: v == token, timeout=60)
    lab.wait_eval("view.attr_status", lambda v: v == "", timeout=60)
    # and back to " Paris" against that token (a contrast)
    lab.run_code("view.explain(target=' Paris', contrast=%r)" % token, keep=False)
    lab.wait_for('[data-role=prediction] [data-action=contrast][aria-pressed="true"]', timeout=30, within=out)
    before = lab.eval("view.attr_target_prob")

    # tick the strongest feature that helps " Paris" and ablate it
    row = out.locator('[data-role=attr-feature][data-sign="+"]').first
    fid = int(row.get_attribute("data-attr-feature"))
    row.locator("xpath=..").locator("[data-role=ablate-select]").check()
    out.locator("[data-role=ablate]").click()
    lab.wait_for("[data-role=ablation-result] [data-side=after]", timeout=60, within=out)
    result = lab.wait_eval("view.attr_result", lambda r: bool(r), timeout=30)
    assert result["features"] == [fid]
    assert result["before"]["target_prob"] == pytest.approx(before)
    assert result["after"]["target_prob"] != pytest.approx(before), "removing a feature that helps changes p"
    shown = out.locator("[data-role=ablation-result]").text_content()
    assert "before" in shown and "after" in shown

    # a click on a feature colours the text by it and opens its dashboard
    row.click()
    lab.wait_eval("view.selected_feature", lambda v: v == fid, timeout=30)
    assert f"#{fid}" in out.locator(".sw-legend").first.text_content()


def test_the_explorer_explains_the_selected_token(notebook):
    lab = notebook
    out = lab.cell_output(1)
    lab.wait_for("[data-token-index]", timeout=60, within=out)
    out.locator('[data-token-index="4"]').first.click()
    out.locator("[data-role=explain-token]").click()
    lab.wait_for("[data-role=attr-feature]", timeout=60, within=out)
    assert lab.wait_eval("ex.attr_position", lambda v: v == 4, timeout=30) == 4
    assert out.locator('[data-role=attr-token][aria-current="true"]').get_attribute("data-attr-index") == "4"


@pytest.mark.skipif(not os.environ.get("SCOPE_WIDGETS_SCREENSHOT_DIR"), reason="set SCOPE_WIDGETS_SCREENSHOT_DIR")
def test_attribution_screenshot(notebook):
    """SCOPE_WIDGETS_SCREENSHOT_DIR=docs ./scripts/test tests/browser/test_browser_attribution.py -> docs/attribution.png."""
    lab = notebook
    out_dir = Path(os.environ["SCOPE_WIDGETS_SCREENSHOT_DIR"])
    out_dir.mkdir(parents=True, exist_ok=True)
    page = lab.page
    area = lab.cell_output(0).locator(".jp-OutputArea-output", has=page.locator(".sw-attribution")).first
    size = page.viewport_size
    page.set_viewport_size({"width": size["width"], "height": int(area.evaluate("e => e.getBoundingClientRect().height")) + 300})
    try:
        area.scroll_into_view_if_needed()
        area.screenshot(path=str(out_dir / "attribution.png"))
    finally:
        page.set_viewport_size(size)
