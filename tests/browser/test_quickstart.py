"""What ./scripts/demo shows a new user: notebooks/quickstart.ipynb opened in JupyterLab, Run All,
no cell raises, and the Explorer appears and answers a click."""

from __future__ import annotations

import pytest

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def test_quickstart_runs_in_jupyterlab(lab, widgets_built):
    path = "notebooks/quickstart.ipynb"
    if not (lab.server.root / path).is_file():
        pytest.fail("notebooks/quickstart.ipynb is missing")
    lab.open(path, ui="lab")
    lab.run_all(timeout=600)  # raises CellError with the traceback if any cell fails
    token = lab.wait_for('[data-token-index="1"]', timeout=60)
    token.click()
    # the page reacts at once: some feature row is shown for the clicked token
    lab.wait_for("[data-feature-id]:not(input)", timeout=10)
