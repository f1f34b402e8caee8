"""Shared pytest configuration: markers, skips and switches.

Markers (declared in pyproject.toml):
  slow       loads the embedded Gemma 3 270M
  browser    drives JupyterLab / Notebook 7 in headless Chromium (tests/browser/)
  cuda       needs a CUDA GPU: skipped without one
  notebooks  executes notebooks headless

Switches:
  --no-browser / SCOPE_WIDGETS_SKIP_BROWSER=1   skip the browser tests
  --no-slow    / SCOPE_WIDGETS_SKIP_SLOW=1      skip tests that load the embedded model
  In CI (CI=true) or with SCOPE_WIDGETS_REQUIRE_BROWSER=1, a missing browser or Playwright is an
  error, not a skip, so a broken install can't pass as green.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent


def _truthy(value: str | None) -> bool:
    return (value or "").strip().lower() not in ("", "0", "false", "no", "off")


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("scope_widgets")
    group.addoption("--no-browser", action="store_true", help="skip the browser tests")
    group.addoption("--no-slow", action="store_true", help="skip tests that load the embedded model")


def chromium_path() -> str | None:
    """The Chromium the browser tests drive (Debian's; never a Playwright download)."""
    path = os.environ.get("SCOPE_WIDGETS_CHROMIUM", "/usr/bin/chromium")
    return path if Path(path).is_file() and os.access(path, os.X_OK) else None


def browser_unavailable_reason() -> str | None:
    """Why the browser tests cannot run here, or None when they can."""
    if chromium_path() is None:
        return (
            "no Chromium at /usr/bin/chromium (apt-get install chromium, or run ./scripts/test "
            "as root; SCOPE_WIDGETS_CHROMIUM names another binary)"
        )
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "the playwright Python package is missing (pip install -e '.[test]')"
    if shutil.which("jupyter-lab") is None:
        try:
            import jupyterlab  # noqa: F401
        except ImportError:
            return "JupyterLab is missing (pip install -e '.[test]')"
    return None


def browser_required() -> bool:
    return _truthy(os.environ.get("CI")) or _truthy(os.environ.get("SCOPE_WIDGETS_REQUIRE_BROWSER"))


_CUDA: bool | None = None


def cuda_available() -> bool:
    global _CUDA
    if _CUDA is None:
        try:
            import torch

            _CUDA = bool(torch.cuda.is_available())
        except Exception:  # no torch, or a broken CUDA setup: either way, no CUDA
            _CUDA = False
    return _CUDA


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    skip_browser = config.getoption("--no-browser") or _truthy(
        os.environ.get("SCOPE_WIDGETS_SKIP_BROWSER")
    )
    skip_slow = config.getoption("--no-slow") or _truthy(os.environ.get("SCOPE_WIDGETS_SKIP_SLOW"))
    browser_reason: str | None = None
    browser_checked = False

    for item in items:
        # everything under tests/browser/ is a browser test, marked or not
        if "browser" in Path(str(item.fspath)).parts and item.get_closest_marker("browser") is None:
            item.add_marker(pytest.mark.browser)

        if item.get_closest_marker("cuda") is not None and not cuda_available():
            item.add_marker(pytest.mark.skip(reason="needs a CUDA GPU (torch.cuda.is_available() is False)"))

        if item.get_closest_marker("slow") is not None and skip_slow:
            item.add_marker(pytest.mark.skip(reason="slow tests switched off (--no-slow)"))

        if item.get_closest_marker("browser") is not None:
            if skip_browser:
                item.add_marker(pytest.mark.skip(reason="browser tests switched off (--no-browser)"))
                continue
            if not browser_checked:
                browser_reason = browser_unavailable_reason()
                browser_checked = True
            if browser_reason is not None:
                if browser_required():
                    # CI must not turn a broken install into a green run
                    item.add_marker(_fail_marker(browser_reason))
                else:
                    item.add_marker(pytest.mark.skip(reason=browser_reason))


def _fail_marker(reason: str) -> pytest.MarkDecorator:
    return pytest.mark.scope_widgets_fail(reason=reason)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "scope_widgets_fail(reason): internal: fail the test at setup with this reason"
    )


def pytest_runtest_setup(item: pytest.Item) -> None:
    marker = item.get_closest_marker("scope_widgets_fail")
    if marker is not None:
        pytest.fail(
            f"browser tests required here (CI or SCOPE_WIDGETS_REQUIRE_BROWSER) but: {marker.kwargs['reason']}",
            pytrace=False,
        )


@pytest.fixture(scope="session")
def repo_root() -> Path:
    """The repository's root directory."""
    return REPO_ROOT
