"""scope.compare and sw.Compare on a tiny random model: the ranking, its values, the widget's state."""

from __future__ import annotations

import numpy as np
import pytest

from scope_widgets.features import compare
from scope_widgets.widgets import Compare
from factories import tiny_scope

A, B = "The cat sat on the mat.", "A dog ran to the park!"


@pytest.fixture(scope="module")
def scope():
    return tiny_scope()


def test_compare_ranks_by_the_difference_of_maxima(scope):
    result = scope.compare(A, B, k=10)
    a, b = scope.features([A, B])
    dense_a, dense_b = a.dense()[1:].max(0), b.dense()[1:].max(0)  # BOS excluded
    diffs = [abs(x - y) for _, x, y in result]
    assert len(result) == 10 and diffs == sorted(diffs, reverse=True)
    for f, x, y in result:
        assert x == pytest.approx(dense_a[f], rel=1e-5, abs=1e-6) and y == pytest.approx(dense_b[f], rel=1e-5, abs=1e-6)
    best = np.abs(dense_a - dense_b).max()
    assert diffs[0] == pytest.approx(best, rel=1e-5)


def test_compare_by_mean(scope):
    result = scope.compare(A, B, k=5, by="mean")
    a, b = scope.features([A, B])
    mean_a, mean_b = a.dense()[1:].mean(0), b.dense()[1:].mean(0)
    f, x, y = result[0]
    assert x == pytest.approx(mean_a[f], rel=1e-4) and y == pytest.approx(mean_b[f], rel=1e-4)
    assert abs(x - y) == pytest.approx(np.abs(mean_a - mean_b).max(), rel=1e-4)


def test_compare_relative_on_an_sae_without_shipped_levels(scope):
    """A random SAE has no dashboards: its usual strengths are counted on everyday text when first needed."""
    result = scope.compare(A, B, k=5, by="relative")
    a, b = scope.features([A, B])
    usual = a.usual_levels().usual_max
    assert b.usual_levels() is a.usual_levels() and (usual > 0).any()
    ratio = lambda acts: np.where(usual > 0, acts.max_per_feature.numpy() / np.where(usual > 0, usual, 1), 0.0)
    ra, rb = ratio(a), ratio(b)
    assert result and abs(result[0][1] - result[0][2]) == pytest.approx(np.abs(ra - rb).max(), rel=1e-5)
    for f, x, y in result:
        assert x == pytest.approx(ra[f], rel=1e-5) and y == pytest.approx(rb[f], rel=1e-5)


def test_bad_comparisons_are_refused(scope):
    with pytest.raises(ValueError, match="by must be one of"):
        scope.compare(A, B, by="median")
    acts_a, acts_b = scope.features([A, B])
    acts_a.reference_source = None  # built by hand, without usual levels
    with pytest.raises(ValueError, match="usual activation levels"):
        compare(acts_a, acts_b, by="relative")
    with pytest.raises(ValueError, match="empty"):
        scope.compare(A, "  ")
    other = tiny_scope(seed=1)
    with pytest.raises(ValueError, match="different SAEs"):
        compare(scope.features(A), other.features(B))


def test_the_widget_holds_both_texts_and_the_differences(scope):
    w = Compare(scope, A, B, k=8)
    assert w.view == "compare" and w.text_a == A and w.text_b == B
    assert w.by == "relative"  # against the usual levels, counted on everyday text for a random SAE
    assert w.differences == scope.compare(A, B, k=8, by="relative")
    assert w.diff_ids == [f for f, _, _ in w.differences] and w.selected_feature == w.diff_ids[0]
    np.testing.assert_allclose(np.frombuffer(w.diff_a, "<f4"), [x for _, x, _ in w.differences], rtol=1e-6)
    for side, acts in (("a", w.activations("a")), ("b", w.activations("b"))):
        n = getattr(w, f"{side}_n_tokens")
        assert getattr(w, f"{side}_tokens") == acts.tokens and n == acts.n_tokens
        ids = getattr(w, f"{side}_column_ids")
        assert set(w.diff_ids) <= set(ids)  # a click on any listed difference recolours both sides exactly
        cols = np.frombuffer(getattr(w, f"{side}_columns"), "<f4").reshape(len(ids), n)
        np.testing.assert_allclose(cols[ids.index(w.diff_ids[0])], acts.feature(w.diff_ids[0]), rtol=1e-6)
    w.by = "mean"
    assert w.differences == scope.compare(A, B, k=8, by="mean")


def test_the_widget_answers_column_requests_per_side(scope):
    w = Compare(scope, A, B)
    sent = []
    w.send = lambda content, buffers=None: sent.append((content, buffers))
    w._dispatch_msg(w, {"type": "column", "feature": 3, "side": "b"}, [])
    content, buffers = sent[-1]
    assert content == {"type": "column", "feature": 3, "side": "b", "n_tokens": len(B) + 1}
    w._dispatch_msg(w, {"type": "column", "feature": 3, "side": "a", "epoch": 2}, [])
    assert sent[-1][0] == {"type": "column", "feature": 3, "side": "a", "epoch": 2, "n_tokens": len(A) + 1}
    np.testing.assert_allclose(np.frombuffer(buffers[0], "<f4"), w.activations("b").feature(3))
    w._dispatch_msg(w, {"type": "column", "feature": 3, "side": "c"}, [])
    assert "side must be 'a' or 'b'" in sent[-1][0]["error"]
    with pytest.raises(ValueError, match="by must be one of"):
        Compare(scope, A, B, by="sum")
