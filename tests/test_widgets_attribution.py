"""The attribution view and the Explorer's "why this next token?" panel, driven as the browser drives them."""

from __future__ import annotations

import numpy as np
import pytest

import scope_widgets as sw
from factories import TINY_TEXT as TEXT, tiny_scope
from tiny_models import hook_count


@pytest.fixture
def scope():
    return tiny_scope()


def floats(b: bytes) -> np.ndarray:
    return np.frombuffer(b, dtype="<f4")


def test_the_view_shows_one_attribution_as_synced_state(scope):
    view = sw.AttributionView(scope, TEXT, position=-1, target="t")
    attr = view.attribution
    n = len(view.tokens)
    assert view.view == "attribution" and view.has_bos and n == len(TEXT) + 1
    assert (view.attr_position, view.attr_target, view.attr_contrast) == (n - 1, "t", None)
    assert view.attr_target_prob == pytest.approx(attr.target_prob)
    np.testing.assert_allclose(floats(view.attr_token_scores), attr.per_token(), rtol=1e-6)
    ids = view.attr_feature_ids
    assert ids == [f for f, _ in attr.by_feature(len(ids))]
    columns = floats(view.attr_columns).reshape(len(ids), n)
    np.testing.assert_allclose(columns[0], attr.feature(ids[0]), rtol=1e-6)
    np.testing.assert_allclose(floats(view.attr_feature_scores), [s for _, s in attr.by_feature(len(ids))], rtol=1e-5)
    assert [p[0] for p in view.attr_predictions] == [t for t, _ in attr.predictions(10)]
    assert view.attr_nodes["error_share"] == pytest.approx(attr.error)
    assert view.selected_feature == ids[0]
    view.wait_dashboard()


def test_the_browser_picks_a_position_a_target_and_a_contrast(scope):
    view = sw.AttributionView(scope, TEXT)
    view.set_state({"attr_position": 5, "attr_target": None, "attr_contrast": None})  # a token click
    view.wait_attribution()
    assert view.attribution.position == 5 and view.attr_status == ""
    top = view.attr_predictions[0][0]
    assert view.attr_target == top  # the top prediction, written back
    second = view.attr_predictions[1][0]
    view.set_state({"attr_contrast": second})
    view.wait_attribution()
    assert view.attribution.contrast == second and view.attr_contrast_prob == pytest.approx(view.attribution.contrast_prob)
    tokens_after = floats(view.attr_token_scores)[6:]
    assert not tokens_after.any()  # tokens after the position cannot matter


def test_a_bad_target_is_reported_and_the_last_result_kept(scope):
    view = sw.AttributionView(scope, TEXT, target="t")
    before = view.attribution
    view.set_state({"attr_target": "abc"})
    view.wait_attribution()
    assert view.attr_status.startswith("error: the target 'abc' is 3 tokens")
    assert view.attribution is before and view.attr_target == "t"  # the settings of the result shown
    view.wait_dashboard()  # the dashboard worker may be reading the corpus through its own hooks
    assert hook_count(scope.model) == 0


def test_ablation_from_the_browser_reruns_and_reports_old_and_new(scope):
    view = sw.AttributionView(scope, TEXT)
    chosen = view.attr_feature_ids[:2]
    view.set_state({"attr_ablate": chosen})
    view._dispatch_msg(view, {"type": "ablate", "features": chosen}, [])
    view.wait_attribution()
    result = view.attr_result
    expected = view.attribution.ablate(chosen, details=True)
    assert result["features"] == chosen
    assert result["after"]["target_prob"] == pytest.approx(expected.target_prob)
    assert result["before"]["target_prob"] == pytest.approx(view.attribution.target_prob)
    assert result["change"] == pytest.approx(expected.change)
    assert result["estimated"] == pytest.approx(view.attribution.estimated_effect(chosen))
    view._dispatch_msg(view, {"type": "ablate", "features": []}, [])
    view.wait_attribution()
    assert view.attr_status.startswith("error: select one or more features")


def test_bad_input_to_the_view_raises_at_once(scope):
    with pytest.raises(ValueError, match="outside the text"):
        sw.AttributionView(scope, TEXT, position=500)
    with pytest.raises(ValueError, match="is 2 tokens"):
        sw.AttributionView(scope, TEXT, target="ab")
    assert hook_count(scope.model) == 0


def test_the_explorer_explains_on_request_only(scope):
    explorer = sw.Explorer(scope, TEXT)
    assert explorer.attr_position is None and explorer.attribution is None  # nothing computed on creation
    attr = explorer.explain(4)
    assert attr.position == 4 and explorer.attr_position == 4 and explorer.attr_feature_ids
    explorer.set_state({"attr_position": 7, "attr_target": None, "attr_contrast": None})
    explorer.wait_attribution()
    assert explorer.attribution.position == 7
    explorer.wait_dashboard()
