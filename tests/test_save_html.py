"""sw.save_html: one self-contained file (bundle, state, dashboards), safe for any token text."""

from __future__ import annotations

import base64
import json
import re

import numpy as np
import pytest

import scope_widgets as sw
from scope_widgets.widgets.export import saved_state
from factories import tiny_scope

HOSTILE = "a </script><script>alert(1)</script> <!-- b"


@pytest.fixture(scope="module")
def scope():
    return tiny_scope()


def saved_widgets(html: str) -> list:
    body = re.search(r'<script type="application/json" id="sw-widgets">(.*?)</script>', html, re.S).group(1)
    return json.loads(body)


def test_a_file_with_the_bundle_the_state_and_nothing_from_outside(scope, tmp_path):
    ex = sw.Explorer(scope, "The cat sat.")
    ex.wait_dashboard()
    path = sw.save_html(tmp_path / "view.html", ex, title="cats")
    html = path.read_text(encoding="utf-8")
    assert "<title>cats</title>" in html and 'id="sw-bundle"' in html
    assert not re.search(r"(src|href)=\"https?:", html)  # no CDN, no network
    (w,) = saved_widgets(html)
    state = w["state"]
    assert state["view"] == "explorer" and state["tokens"] == ex.tokens
    top = np.frombuffer(base64.b64decode(state["top_ids"]["__b64__"]), "<i4")
    assert top.tolist() == np.frombuffer(ex.top_ids, "<i4").tolist()
    assert str(ex.selected_feature) in w["dashboards"] or not w["dashboards"]  # saved when the scope has them
    assert "layout" not in state


def test_hostile_token_text_cannot_break_out_of_the_page(scope, tmp_path):
    ex = sw.Explorer(scope, HOSTILE)
    html = sw.save_html(tmp_path / "x.html", ex).read_text(encoding="utf-8")
    assert html.count("</script>") == 3  # the page's own three script elements, nothing from the text
    assert "<!-- b" not in html
    assert "".join(saved_widgets(html)[0]["state"]["tokens"][1:]) == HOSTILE


def test_several_widgets_and_the_dashboards_a_reader_will_click(tmp_path):
    scope = sw.Scope.load()  # the embedded default has dashboards to save
    cmp = sw.Compare(scope, "The Eiffel Tower is in Paris.", "The Colosseum is in Rome.")
    w = saved_state(cmp, max_dashboards=5)
    assert len(w["dashboards"]) == 5 and set(w["dashboards"]) <= {str(f) for f in cmp.a_column_ids + cmp.b_column_ids}
    first = w["dashboards"][str(cmp.selected_feature)]
    assert first["dashboard"]["status"] == "ok" and first["values"]["__b64__"]
    heat = sw.TokenHeatmap(scope.features("Paris"))
    assert len(saved_widgets(sw.save_html(tmp_path / "two.html", cmp, heat).read_text())) == 2


def test_bad_calls_are_refused(scope, tmp_path):
    ex = sw.Explorer(scope, "x")
    with pytest.raises(ValueError, match="at least one widget"):
        sw.save_html(tmp_path / "a.html")
    with pytest.raises(TypeError, match="scope_widgets widgets"):
        sw.save_html(tmp_path / "a.html", object())
    with pytest.raises(ValueError, match=r"\.html file"):
        sw.save_html(tmp_path / "a.txt", ex)
    assert not (tmp_path / "a.txt").exists()
