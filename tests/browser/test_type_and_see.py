"""Type and see, in JupyterLab on the embedded default: edit the Explorer's text in place, the heatmap
follows as you type (DOM: [data-role=edit-text], [data-role=explorer-text], [data-role=text-status])."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

pytestmark = [pytest.mark.browser, pytest.mark.slow]

CELL = """
import scope_widgets as sw
scope = sw.Scope.load()
ex = sw.Explorer(scope, "The cat sat on the mat.")
ex
"""


def test_typing_updates_the_heatmap(lab, write_notebook, widgets_built):
    lab.open(write_notebook("type_and_see.ipynb", [CELL]), ui="lab")
    lab.run_all(timeout=600)
    out = lab.cell_output(0)
    lab.wait_for("[data-token-index]", timeout=60, within=out)
    out.locator("[data-role=edit-text]").click()
    area = out.locator("[data-role=explorer-text]")
    area.press("End")
    area.press_sequentially(" Then the dog barked at the postman.", delay=20)  # a user typing
    lab.page.wait_for_function(
        """(root) => [...root.querySelectorAll('[data-token-index]')].map(e => e.textContent).join('').includes('postman')""",
        arg=out.element_handle(), timeout=60_000,
    )
    status = out.locator("[data-role=text-status]")
    lab.page.wait_for_function("(el) => el.textContent === 'up to date'", arg=status.element_handle(), timeout=30_000)
    assert lab.eval("ex.analysed_text") == "The cat sat on the mat. Then the dog barked at the postman."
    # the features follow too: a click on a new token lists its features
    n = lab.eval("ex.n_tokens")
    out.locator(f'[data-token-index="{n - 2}"]').click()
    lab.wait_for("[data-feature-id]:not(input)", timeout=10, within=out)
    assert lab.wait_eval("ex.selected_token", lambda v: v == n - 2, timeout=20) == n - 2
    shots = os.environ.get("SCOPE_WIDGETS_SCREENSHOT_DIR")
    if shots:  # SCOPE_WIDGETS_SCREENSHOT_DIR=docs: docs/type_and_see.png
        out.locator("section[aria-label=Tokens]").first.screenshot(path=str(Path(shots) / "type_and_see.png"))
