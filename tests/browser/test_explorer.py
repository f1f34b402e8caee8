"""The real widgets in a real browser, on the embedded default model (Gemma 3 270M + its SAE).

Written against the public contract (GUIDE section 2):
  tokens        [data-token-index="<i>"]       focusable; click, Enter, Space select; arrows move
  feature rows  [data-feature-id="<id>"]       (not inputs)
  sliders       input[type=range][data-feature-id="<id>"]
  generations   [data-role=steered-text], [data-role=baseline-text]
  traits        Explorer.selected_token / selected_feature; SteeringPanel.coefficients / steered_text /
                baseline_text

A widget module that fails to import or a bundle that failed to build fails these tests (never skips).
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

XSS = "<img src=x onerror=alert(1)>"
TEXT = f"The Eiffel Tower is in Paris. {XSS} It was finished in 1889."
PROMPT = "Once upon a time"


pytestmark = [pytest.mark.browser, pytest.mark.slow]

EXPLORER_CELL = f"""
import scope_widgets as sw
scope = sw.Scope.load()
TEXT = {TEXT!r}
ex = sw.Explorer(scope, TEXT)
ex
"""

PANEL_CELL = f"""
PROMPT = {PROMPT!r}
FID = int(scope.features(PROMPT).top(1)[0][0])
panel = sw.SteeringPanel(scope, PROMPT, features=[FID])
panel
"""


@pytest.fixture(scope="module")
def explorer(lab, write_notebook, widgets_built):
    """The notebook open and run: cell 0 holds the Explorer, cell 1 a SteeringPanel."""
    path = write_notebook("explorer.ipynb", [EXPLORER_CELL, PANEL_CELL])
    lab.open(path, ui="lab")
    lab.run_all(timeout=600)  # a cold cache dequantises the GGUF first (about 30 s)
    lab.wait_for("[data-token-index]", timeout=60, within=lab.cell_output(0))
    return lab


def _tokens(lab):
    return lab.cell_output(0).locator("[data-token-index]")


def _rows(lab):
    return lab.cell_output(0).locator("[data-feature-id]:not(input)")


def _colours(lab) -> list[str]:
    return _tokens(lab).evaluate_all(
        "els => els.map(e => getComputedStyle(e).backgroundColor + '|' + getComputedStyle(e).color)"
    )


def _norm(s: str | None) -> str:
    return " ".join((s or "").split())


def test_renders_tokens_and_features(explorer):
    n_tokens = explorer.eval("len(scope.features(TEXT).tokens)")
    indices = _tokens(explorer).evaluate_all("els => els.map(e => +e.dataset.tokenIndex)")
    assert set(range(1, n_tokens)) <= set(indices), "every non-BOS token is shown"
    assert _rows(explorer).count() > 0, "the feature list shows features"


def test_prompt_html_shows_as_text(explorer, page_console):
    page = explorer.page
    text = _tokens(explorer).evaluate_all("els => els.map(e => e.textContent).join('')")
    squeezed = "".join(text.split())
    for piece in ("<img", "src=x", "onerror=alert(1)>"):
        assert piece in squeezed, f"{piece!r} is not shown as text in the heatmap: {text!r}"
    assert page.locator('img[src="x"]').count() == 0, "the prompt's <img> became an element"
    alerts = [line for line in page_console if line.startswith("[dialog:alert]")]
    assert not alerts, f"script from the prompt ran: {alerts}"


def test_click_token_selects_it_and_shows_its_features(explorer):
    pos = 3
    token = _tokens(explorer).and_(explorer.page.locator(f'[data-token-index="{pos}"]')).first
    token.click()
    assert explorer.wait_eval("ex.selected_token", lambda v: v == pos) == pos
    top_id = explorer.eval(f"int(scope.features(TEXT).top_at({pos}, k=1)[0][0])")
    row = _rows(explorer).and_(explorer.page.locator(f'[data-feature-id="{top_id}"]')).first
    row.wait_for(state="visible", timeout=10_000)
    # listed in the order a click lists them: the features of the token's word first, then by strength
    order = explorer.eval(f"[f for f, _ in scope.features(TEXT).ranked_at({pos}, k=32, labels=scope.label)]")
    shown = explorer.cell_output(0).locator(".sw-frow[data-feature-id]").evaluate_all(
        "els => els.filter(e => e.offsetParent !== null).map(e => Number(e.dataset.featureId))")
    assert shown[: len(order)] == order

    # keyboard: move to the next token and select it with Enter
    token.focus()
    explorer.page.keyboard.press("ArrowRight")
    explorer.page.keyboard.press("Enter")
    assert explorer.wait_eval("ex.selected_token", lambda v: v == pos + 1) == pos + 1


def test_click_feature_recolours_heatmap_without_the_kernel(explorer):
    current = explorer.eval("ex.selected_feature")
    ids = _rows(explorer).evaluate_all("els => els.map(e => e.dataset.featureId)")
    target = next(i for i in ids if str(i) != str(current))
    before = _colours(explorer)

    # keep the kernel busy: the recolour must not wait for it
    sleeper = explorer.start_code("import time; time.sleep(8)")
    deadline = time.monotonic() + 5
    while not explorer.cell_running(sleeper):
        assert time.monotonic() < deadline, "the sleeping cell did not start"
        time.sleep(0.05)
    _rows(explorer).and_(explorer.page.locator(f'[data-feature-id="{target}"]')).first.click(
        position={"x": 8, "y": 8}
    )
    deadline = time.monotonic() + 3
    while _colours(explorer) == before:
        assert time.monotonic() < deadline, "the heatmap did not recolour within 3 s of the click"
        time.sleep(0.05)
    assert explorer.cell_running(sleeper), "the heatmap recoloured only after the kernel was free"

    explorer.wait_cell(sleeper, 60)
    got = explorer.wait_eval("ex.selected_feature", lambda v: str(v) == str(target))
    assert str(got) == str(target)


def test_slider_steers_generation(explorer):
    out = explorer.cell_output(1)
    fid = explorer.eval("FID")
    slider = explorer.wait_for(f'input[type=range][data-feature-id="{fid}"]', within=out)
    assert slider.get_attribute("aria-label"), "the slider names its feature for screen readers"
    value = slider.evaluate("e => e.max")
    slider.fill(value)  # sets the value and fires input + change, as a drag ends

    steered = out.locator("[data-role=steered-text]").first
    baseline = out.locator("[data-role=baseline-text]").first
    steered.wait_for(state="visible", timeout=60_000)
    baseline.wait_for(state="visible", timeout=60_000)

    # the slider reached Python...
    coefficients = explorer.wait_eval(
        "{str(k): v for k, v in panel.coefficients.items()}",
        lambda c: str(fid) in c and abs(float(c[str(fid)]) - float(value)) < 1e-6 * max(1.0, abs(float(value))),
    )
    assert abs(float(coefficients[str(fid)]) - float(value)) < 1e-6 * max(1.0, abs(float(value))), coefficients

    # ...and the steered generation streams in: wait until it is finished (the text stops changing and,
    # where the panel has one, its status is no longer 'running') and the page shows what Python holds
    deadline = time.monotonic() + 240
    last = None
    while True:
        py = explorer.eval("(panel.steered_text, getattr(panel, 'status_kind', ''))")
        text, status = py[0], py[1]
        settled = bool(text) and status != "running" and text == last
        if settled and _norm(text) == _norm(steered.text_content()):
            break
        assert time.monotonic() < deadline, f"steered text never settled: py={py!r} dom={steered.text_content()!r}"
        last = text
        time.sleep(1.5)
    py = text

    base_py = explorer.wait_eval("panel.baseline_text", bool, timeout=60)
    assert _norm(base_py) == _norm(baseline.text_content())
    assert _norm(base_py) != _norm(py), f"steering feature {fid} at {value} left the generation unchanged"


@pytest.mark.skipif(not os.environ.get("SCOPE_WIDGETS_SCREENSHOT_DIR"), reason="set SCOPE_WIDGETS_SCREENSHOT_DIR")
def test_screenshot_for_docs(explorer):
    """SCOPE_WIDGETS_SCREENSHOT_DIR=docs ./scripts/test tests/browser/test_explorer.py -> docs/explorer.png"""
    out = Path(os.environ["SCOPE_WIDGETS_SCREENSHOT_DIR"])
    out.mkdir(parents=True, exist_ok=True)
    page = explorer.page
    # the widget's own output (not the model-loading log above it)
    area = explorer.cell_output(0).locator(".jp-OutputArea-output", has=page.locator("[data-token-index]")).first
    size = page.viewport_size
    height = area.evaluate("e => e.getBoundingClientRect().height")
    page.set_viewport_size({"width": size["width"], "height": int(height) + 400})  # all of it in view
    try:
        area.scroll_into_view_if_needed()
        area.screenshot(path=str(out / "explorer.png"))
    finally:
        page.set_viewport_size(size)
