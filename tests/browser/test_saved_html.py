"""sw.save_html: the Explorer and Compare saved to one file, opened in headless Chromium with the network
off: tokens and features still answer clicks, saved dashboards show, steering says it needs the kernel."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

pytestmark = [pytest.mark.browser, pytest.mark.slow]

TEXT = "The Eiffel Tower is in Paris. <img src=x onerror=alert(1)> It was finished in 1889."


@pytest.fixture(scope="module")
def saved_page(tmp_path_factory, widgets_built, page):
    import scope_widgets as sw

    scope = sw.Scope.load()
    explorer = sw.Explorer(scope, TEXT)
    explorer.wait_dashboard()
    compare = sw.Compare(scope, "The Eiffel Tower is in Paris.", "The Colosseum is in Rome.")
    path = sw.save_html(tmp_path_factory.mktemp("saved") / "view.html", explorer, compare)
    requests: list[str] = []
    page.on("request", lambda r: requests.append(r.url))
    page.context.set_offline(True)
    try:
        page.goto(path.as_uri())
        page.wait_for_selector("body[data-sw-ready='2']", timeout=30_000)
        yield page, explorer, compare, requests, path
    finally:
        page.context.set_offline(False)


def test_it_opens_offline_with_no_request_outside_the_file(saved_page):
    page, explorer, _compare, requests, path = saved_page
    assert all(u.startswith(("file:", "blob:", "data:")) for u in requests), requests
    first = page.locator("#sw-widget-0")
    assert first.locator("[data-token-index]").count() == len(explorer.tokens)
    assert first.locator("img").count() == 0  # token text stays text
    assert path.stat().st_size < 3_000_000


def test_clicks_work_from_the_saved_state(saved_page):
    page, explorer, _compare, _requests, _path = saved_page
    ex = page.locator("#sw-widget-0")
    ex.locator('[data-token-index="6"]').click()  # " Paris": its features are listed from the saved top-k
    rows = ex.locator("[data-feature-id]:not(input)")
    rows.first.wait_for()
    fid = int(rows.nth(1).get_attribute("data-feature-id"))
    rows.nth(1).click()
    levels = ex.locator("[data-token-index]").evaluate_all("els => els.map(e => +e.dataset.h)")
    assert any(levels), "the heatmap recoloured by the clicked feature"
    legend = ex.locator(".sw-legend-text").first.text_content()
    assert f"#{fid}" in legend
    dash = ex.locator(".sw-dashboard, [aria-label='Feature dashboard']").first.text_content()
    assert f"#{fid}" in dash and ("Top activating examples" in dash or "was not saved with this page" in dash)


def test_compare_recolours_both_sides_offline(saved_page):
    page, _explorer, compare, _requests, _path = saved_page
    cmp = page.locator("#sw-widget-1")
    second = compare.diff_ids[1]
    cmp.locator(f'[data-role=diff-feature][data-feature-id="{second}"]').click()
    for side in ("a", "b"):
        levels = cmp.locator(f"[data-side={side}] [data-token-index]").evaluate_all("els => els.map(e => +e.dataset.h)")
        expected = [v > 0 for v in compare.activations(side).feature(second)[1:]]
        assert [lv > 0 for lv in levels[1:]] == expected


def test_kernel_work_says_it_needs_the_kernel(saved_page):
    page, *_ = saved_page
    ex = page.locator("#sw-widget-0")
    ex.locator(".sw-steering button", has_text="Generate").click(force=True)
    page.wait_for_function("() => document.querySelector('#sw-widget-0 .sw-steering .sw-status').textContent.includes('needs the running kernel')")


@pytest.mark.skipif(not os.environ.get("SCOPE_WIDGETS_SCREENSHOT_DIR"), reason="set SCOPE_WIDGETS_SCREENSHOT_DIR")
def test_saved_page_screenshot(saved_page):
    page, *_ = saved_page
    out = Path(os.environ["SCOPE_WIDGETS_SCREENSHOT_DIR"])
    out.mkdir(parents=True, exist_ok=True)
    page.locator("#sw-widget-1").screenshot(path=str(out / "compare.png"))
