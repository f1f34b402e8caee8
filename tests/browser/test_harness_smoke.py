"""Proves the browser harness on a trivial anywidget (no model, no bundle): the click reaches Python.

Runs in JupyterLab 4 and in Notebook 7 (its /tree file browser, then the notebook view).
"""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.browser

CLICKER = '''
import anywidget, traitlets

class Clicker(anywidget.AnyWidget):
    _esm = """
    function render({ model, el }) {
      const b = document.createElement("button");
      b.dataset.role = "smoke-button";
      const show = () => { b.textContent = `count is ${model.get("count")}`; };
      b.addEventListener("click", () => { model.set("count", model.get("count") + 1); model.save_changes(); });
      model.on("change:count", show);
      show();
      el.appendChild(b);
    }
    export default { render };
    """
    count = traitlets.Int(0).tag(sync=True)

w = Clicker()
w
'''


def _click_and_check(lab) -> None:
    button = lab.wait_for("[data-role=smoke-button]", within=lab.cell_output(0))
    assert button.text_content() == "count is 0"
    button.click()
    button.click()
    # the front end shows its own click at once...
    lab.page.wait_for_function(
        "() => document.querySelector('[data-role=smoke-button]').textContent === 'count is 2'"
    )
    # ...and the Python trait follows
    assert lab.wait_eval("w.count", lambda v: v == 2) == 2


def test_jupyterlab_click_reaches_python(lab, write_notebook):
    path = write_notebook("smoke_lab.ipynb", [CLICKER])
    lab.open(path, ui="lab")
    lab.run_all(timeout=120)
    _click_and_check(lab)
    # Python -> browser as well
    lab.run_code("w.count = 10")
    lab.page.wait_for_function(
        "() => document.querySelector('[data-role=smoke-button]').textContent === 'count is 10'"
    )


def test_notebook7_opens_and_runs(lab, write_notebook):
    path = write_notebook("smoke_nb7.ipynb", [CLICKER])
    page = lab.page
    page.goto(lab.server.tree_url())
    item = page.locator(".jp-DirListing-item", has_text="smoke_nb7.ipynb").first
    item.wait_for(state="visible")
    # a double click opens the notebook in a new browser tab, as it does for a person
    with page.context.expect_page() as new:
        item.dblclick()
    tab = new.value
    try:
        tab.wait_for_url("**/notebooks/smoke_nb7.ipynb*")
    finally:
        tab.close()
    lab.open(path, ui="notebook")
    lab.run_all(timeout=120)
    _click_and_check(lab)
