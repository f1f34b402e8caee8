"""The Explorer under marimo: the same anywidget module, hosted by `marimo run` instead of Jupyter.

Opens notebooks/marimo_explorer.py (a marimo app: `mo.ui.anywidget(sw.Explorer(scope, TEXT))` on the embedded
default, offline, CPU) in headless Chromium and checks the DOM contract of tests/browser/test_explorer.py:
  tokens        [data-token-index]                click and keyboard select; the feature list follows
  feature rows  [data-feature-id]:not(input)      a click recolours the heatmap (data-h levels)
  sliders       input[type=range][data-feature-id]   moved: the kernel generates the steered text
  generations   [data-role=steered-text], [data-role=baseline-text]
and that each change reaches Python: the app's next cell prints the Explorer's traits, and marimo runs it
again on every change the widget makes.

marimo renders each anywidget inside an (open) shadow root of a <marimo-anywidget> element; Playwright's CSS
locators pierce open shadow roots, so the selectors are the same as under Jupyter. The document's stylesheet
does not reach inside a shadow root: the widgets put theirs into it (js/render.ts), checked here too.

With SCOPE_WIDGETS_SCREENSHOT_DIR=docs, also saves docs/marimo.png.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Iterator

import pytest

pytestmark = [pytest.mark.browser, pytest.mark.slow]

REPO_ROOT = Path(__file__).resolve().parents[2]
APP = REPO_ROOT / "notebooks" / "marimo_explorer.py"
ARTIFACTS = Path(os.environ.get("SCOPE_WIDGETS_ARTIFACTS", REPO_ROOT / "test-artifacts"))
WIDGET = "marimo-anywidget"


def _required() -> bool:
    """As tests/conftest.py decides for Chromium: in CI a missing marimo is an error, not a skip."""
    return any(
        os.environ.get(v, "").strip().lower() not in ("", "0", "false", "no", "off")
        for v in ("CI", "SCOPE_WIDGETS_REQUIRE_BROWSER")
    )


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _stop(proc: subprocess.Popen) -> None:
    """End the server and everything in its process group (its kernel), never anything else."""
    if proc.poll() is None:
        try:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(timeout=10)
        except (ProcessLookupError, PermissionError):
            pass
        except subprocess.TimeoutExpired:
            pass
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        pass


@pytest.fixture(scope="module")
def marimo_url(tmp_path_factory: pytest.TempPathFactory, widgets_built) -> Iterator[str]:
    """`marimo run notebooks/marimo_explorer.py` on a free loopback port; stopped (process group) at the end."""
    try:
        import marimo  # noqa: F401
    except ImportError:
        if _required():
            pytest.fail("marimo is missing (pip install -e '.[test]')")
        pytest.skip("marimo is not installed (pip install -e '.[test]')")
    base = tmp_path_factory.mktemp("marimo")
    env = dict(os.environ)
    env.update(
        {
            "PYTHONUNBUFFERED": "1",
            "HF_HUB_OFFLINE": "1",
            "TRANSFORMERS_OFFLINE": "1",
            "XDG_CONFIG_HOME": str(base / "config"),  # no user marimo.toml leaks in
            "XDG_STATE_HOME": str(base / "state"),
        }
    )
    # the kernel imports scope_widgets from this working tree even where it is not pip-installed
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO_ROOT), os.environ.get("PYTHONPATH")) if p)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    log_path = ARTIFACTS / "marimo-server.log"
    log_path.unlink(missing_ok=True)
    proc, url, error = None, "", "no attempt"
    for _attempt in range(3):  # another process may take the free port first
        port = _free_port()
        cmd = [
            sys.executable, "-m", "marimo", "run", str(APP),
            "--headless", "--host", "127.0.0.1", "--port", str(port), "--no-token", "--no-sandbox",
        ]
        with open(log_path, "ab") as log:
            log.write(f"\n$ {' '.join(cmd)}\n".encode())
            log.flush()
            proc = subprocess.Popen(
                cmd, cwd=base, env=env, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 120
        while proc.poll() is None and time.monotonic() < deadline:
            try:
                urllib.request.urlopen(f"{url}/health", timeout=2).read()
                error = ""
                break
            except (urllib.error.URLError, ConnectionError, OSError):
                time.sleep(0.3)
        if not error:
            break
        error = f"marimo exited with {proc.returncode}" if proc.poll() is not None else "no answer within 120 s"
        _stop(proc)
    if error:
        raise RuntimeError(f"could not start marimo ({error}); log tail:\n{log_path.read_text(errors='replace')[-3000:]}")
    try:
        yield url
    finally:
        _stop(proc)


@pytest.fixture(scope="module")
def app(page, marimo_url):
    """The app open in the page, the Explorer rendered (a cold cache dequantises the model first)."""
    page.goto(marimo_url + "/")
    page.locator(f"{WIDGET} [data-token-index]").first.wait_for(state="visible", timeout=600_000)
    _python_side(page, r"token None")  # the cell that reads the traits has run once
    return page


def _widget(page):
    return page.locator(WIDGET).first


def _tokens(page):
    return _widget(page).locator("[data-token-index]")


def _rows(page):
    return _widget(page).locator("[data-feature-id]:not(input)")


def _levels(page) -> list[str]:
    return _tokens(page).evaluate_all("els => els.map(e => e.dataset.h || '0')")


def _python_side(page, pattern: str, timeout: float = 30) -> str:
    """Wait until the app's trait-printing cell (run again by marimo on each widget change) matches."""
    line = page.get_by_text(re.compile(r"^\s*Selected in Python:")).first
    deadline = time.monotonic() + timeout
    while True:
        text = line.text_content() if line.count() else ""
        if re.search(pattern, text or ""):
            return text
        assert time.monotonic() < deadline, f"Python never showed {pattern!r}; last: {text!r}"
        time.sleep(0.2)


def _norm(s: str | None) -> str:
    return " ".join((s or "").split())


def test_renders_in_a_shadow_root_with_its_stylesheet(app):
    page = app
    assert _tokens(page).count() > 5 and _rows(page).count() > 0
    where = _tokens(page).first.evaluate("e => e.getRootNode().constructor.name")
    assert where == "ShadowRoot", f"expected marimo to render the widget in a shadow root, found {where}"
    # the stylesheet reached the shadow root: the explorer's grid layout and the heatmap's colours apply
    assert _widget(page).locator(".sw-explorer").first.evaluate("e => getComputedStyle(e).display") == "grid"
    hot = _widget(page).locator('.sw-tok[data-h]:not([data-h="0"])').first
    assert hot.evaluate("e => getComputedStyle(e).backgroundColor") not in ("rgba(0, 0, 0, 0)", "transparent")


def test_click_and_keyboard_select_tokens(app):
    page = app
    pos = 3
    token = _widget(page).locator(f'[data-token-index="{pos}"]').first
    token.click()
    assert token.get_attribute("aria-selected") == "true"
    _python_side(page, rf"token {pos},")
    # the feature list now shows that token's features
    _rows(page).first.wait_for(state="visible", timeout=10_000)
    assert _rows(page).count() > 0

    token.focus()
    page.keyboard.press("ArrowRight")
    page.keyboard.press("Enter")
    _python_side(page, rf"token {pos + 1},")
    assert _widget(page).locator(f'[data-token-index="{pos + 1}"]').first.get_attribute("aria-selected") == "true"


def test_click_feature_recolours_the_heatmap(app):
    page = app
    ids = _rows(page).evaluate_all("els => els.map(e => e.dataset.featureId)")
    current = re.search(r"feature (\S+),", _python_side(page, r"feature \S+,")).group(1)
    target = next(i for i in ids if str(i) != current)
    before = _levels(page)
    _rows(page).and_(page.locator(f'[data-feature-id="{target}"]')).first.click(position={"x": 8, "y": 8})
    deadline = time.monotonic() + 3
    while _levels(page) == before:
        assert time.monotonic() < deadline, "the heatmap did not recolour within 3 s of the click"
        time.sleep(0.05)
    _python_side(page, rf"feature {target},")


def _steer(widget, fid: str) -> None:
    """Move feature `fid`'s slider to its maximum; wait until the steered generation has finished and differs
    from the baseline (an earlier run, e.g. at coefficient 0, may still be on screen at first)."""
    slider = widget.locator(f'input[type=range][data-feature-id="{fid}"]').first
    slider.wait_for(state="visible", timeout=30_000)
    assert slider.get_attribute("aria-label"), "the slider names its feature for screen readers"
    steered = widget.locator("[data-role=steered-text]").first
    baseline = widget.locator("[data-role=baseline-text]").first
    before = _norm(steered.text_content())
    value = slider.evaluate("e => e.max")
    slider.fill(value)  # sets the value and fires input + change, as a drag ends

    status = widget.locator(".sw-steering .sw-status").first
    deadline = time.monotonic() + 120
    while True:
        kind = status.get_attribute("data-kind")
        text, base = _norm(steered.text_content()), _norm(baseline.text_content())
        if kind == "done" and text and base and text != base and text != before:
            return
        assert kind != "error", f"the generation failed: {status.text_content()!r}"
        assert time.monotonic() < deadline, (
            f"no steered generation that differs from the baseline (feature {fid} at {value}; status {kind!r}): "
            f"steered {text!r}, baseline {base!r}"
        )
        time.sleep(0.3)


def test_explorer_slider_steers_the_generation(app):
    page = app
    widget = _widget(page)
    fid = _rows(page).first.get_attribute("data-feature-id")
    widget.locator(f'button[data-steer-feature="{fid}"]').first.click()  # the row's "steer" button adds a slider
    _steer(widget, fid)
    _python_side(page, rf"steering \{{{fid}: (?!0[,}}])")  # a coefficient other than 0 reached Python


def test_steering_panel_slider_steers_the_generation(app):
    page = app
    panel = page.locator(WIDGET, has=page.locator("[data-sw-view=steering]")).first
    slider = panel.locator("input[type=range][data-feature-id]").first
    slider.wait_for(state="visible", timeout=60_000)
    _steer(panel, slider.get_attribute("data-feature-id"))


@pytest.mark.skipif(not os.environ.get("SCOPE_WIDGETS_SCREENSHOT_DIR"), reason="set SCOPE_WIDGETS_SCREENSHOT_DIR")
def test_screenshot_for_docs(app):
    """SCOPE_WIDGETS_SCREENSHOT_DIR=docs pytest tests/browser/test_marimo.py -> docs/marimo.png: the app's
    heading, the Explorer after the tests above (a token and a feature selected, the steered generation), and
    the cell that reads its traits in Python."""
    out = Path(os.environ["SCOPE_WIDGETS_SCREENSHOT_DIR"])
    out.mkdir(parents=True, exist_ok=True)
    page = app
    size = page.viewport_size
    top = page.get_by_role("heading", name="scope_widgets in marimo").first
    bottom = page.get_by_text(re.compile(r"^\s*Selected in Python:")).first
    span = "([a, b]) => ({top: a.getBoundingClientRect().top, bottom: b.getBoundingClientRect().bottom})"
    try:
        # marimo scrolls inside its own container, not the window: make the view tall enough for all of it
        box = page.evaluate(span, [top.element_handle(), bottom.element_handle()])
        page.set_viewport_size({"width": 1280, "height": int(box["bottom"] - box["top"]) + 200})
        top.scroll_into_view_if_needed()
        box = page.evaluate(span, [top.element_handle(), bottom.element_handle()])
        width = page.evaluate("() => document.documentElement.clientWidth")
        y = max(0, box["top"] - 16)
        page.screenshot(path=str(out / "marimo.png"), clip={"x": 0, "y": y, "width": width, "height": box["bottom"] + 16 - y})
    finally:
        page.set_viewport_size(size)
