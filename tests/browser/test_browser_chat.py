"""A steered chat in JupyterLab on the embedded default: a turn answered steered and unsteered side by side,
each token's probability on hover, where the two part, and a second turn that each side answers from its
own conversation (DOM: docs/chat_and_text.md)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

pytestmark = [pytest.mark.browser, pytest.mark.slow]

CELL = """
import scope_widgets as sw
scope = sw.Scope.load()
FID = int(scope.features("She paid the bank with money from her salary.").top(1)[0][0])
panel = sw.SteeringPanel(scope, [{"role": "user", "content": "Tell me about your weekend."}], features=[FID],
                         coefficients={FID: 0.7 * scope.steering_scale(FID)}, max_new_tokens=12)
panel
"""


def _done(lab):
    return lab.wait_eval("panel.status_kind", lambda v: v == "done", timeout=120)


def test_a_chat_turn_steered_and_unsteered_with_probabilities(lab, write_notebook, widgets_built):
    lab.open(write_notebook("chat.ipynb", [CELL]), ui="lab")
    lab.run_all(timeout=600)
    out = lab.cell_output(0)
    lab.wait_for("[data-role=chat-transcript]", timeout=60, within=out)
    assert _done(lab) == "done"
    lab.wait_for("[data-role=steered-text] [data-role=gen-token]", timeout=30, within=out)
    token = out.locator("[data-role=steered-text] [data-role=gen-token]").first
    token.hover()
    assert "p = " in token.get_attribute("title")
    pairs = lab.eval("panel.steered_tokens")
    assert "".join(t for t, _ in pairs) == lab.eval("panel.steered_text")
    assert abs(pairs[0][1] * 100 - int(token.get_attribute("data-p"))) <= 0.5
    if lab.eval("panel.steered_text != panel.baseline_text"):
        assert out.locator("[data-role=steered-text] [data-diverge]").count() == 1
        assert "part at token" in out.locator("[data-role=divergence]").text_content()

    first = lab.eval("[panel.baseline_text, panel.steered_text]")
    box = out.locator("[data-role=chat-input]")
    box.fill("And what about Sunday?")
    box.press("Enter")
    lab.wait_for('[data-role=chat-turn][data-speaker="assistant"]', timeout=30, within=out)
    assert _done(lab) == "done"
    pair = out.locator('[data-role=chat-turn][data-speaker="assistant"]').first
    assert pair.locator("[data-side=baseline]").text_content() == first[0]
    assert pair.locator("[data-side=steered]").text_content() == first[1]
    assert lab.eval("panel.conversation('steered')[1]['content']") == first[1]
    shots = os.environ.get("SCOPE_WIDGETS_SCREENSHOT_DIR")
    if shots:  # SCOPE_WIDGETS_SCREENSHOT_DIR=docs: docs/chat.png, probabilities underlined
        out.locator("[data-role=show-probs]").check()
        out.locator(".jp-OutputArea-output", has=lab.page.locator(".sw-steering")).first.screenshot(path=str(Path(shots) / "chat.png"))
