"""Feature attribution on tiny random Gemma 3 models, against hand-written references.

The reference gradient at a hook is computed the plain way: the hook's output is replaced by a leaf tensor
that requires grad, the model runs in full, and autograd gives d metric / d h. Every score must be
``f_i * (W_dec[i] . g)`` and the nodes must add up to ``g . h``.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from factories import TINY_TEXT, tiny_scope
from scope_widgets import Scope
from scope_widgets.features import encoding
from scope_widgets.engine import hooks
from tiny_models import hook_count, tiny_gemma

TEXT = TINY_TEXT


def reference_gradient(scope: Scope, sae, text: str, position: int, target: int, contrast: int | None = None):
    """(h, g): the activation at the SAE's output hook and d metric / d h, from a plain full forward."""
    ids = scope.tokenizer(text, return_tensors="pt").input_ids[:, : position + 1]
    leaf = {}

    def replace(h):
        leaf["h"] = h.detach().clone().requires_grad_(True)
        return leaf["h"]

    with hooks.edit_activations(scope.model, sae.hook_point_out, replace):
        logits = scope.model(input_ids=ids).logits[0, -1]
    metric = logits[target] - (logits[contrast] if contrast is not None else 0)
    (g,) = torch.autograd.grad(metric, [leaf["h"]])
    return leaf["h"].detach()[0], g[0]


def sae_input(scope, sae, text, position):
    ids = scope.tokenizer(text, return_tensors="pt").input_ids[:, : position + 1]
    return hooks.capture_activations(scope.model, [sae.hook_point_in], ids)[sae.hook_point_in][0]


def check_against_reference(scope, attr, sae, text, position, target, contrast=None):
    h, g = reference_gradient(scope, sae, text, position, target, contrast)
    x = sae_input(scope, sae, text, position)
    f = sae.encode(x)  # [n, d_sae]
    a = attr.scores(sae)
    expected = {}
    for p in range(1, h.shape[0]):  # BOS excluded
        for i in torch.nonzero(f[p]).flatten().tolist():
            expected[(p, i)] = float(f[p, i] * (sae.W_dec[i] @ g[p]))
    got = {(int(p), int(i)): float(s) for p, i, s in zip(a.positions, a.features, a.scores)}
    assert expected and got.keys() == expected.keys()
    for key, value in expected.items():
        assert got[key] == pytest.approx(value, rel=1e-4, abs=1e-6)
    # the nodes reproduce the gradient at the hook: features + error + bias + skip + BOS == g . h
    nodes = attr.nodes(sae)
    total = float((g * h).sum())
    assert nodes["total"] == pytest.approx(total, rel=1e-4, abs=1e-5)
    parts = nodes["features"] + nodes["error"] + nodes["bias"] + nodes["skip"] + nodes["bos"]
    assert parts == pytest.approx(total, rel=1e-4, abs=1e-5)
    # the error node, position by position, is the gradient times what the SAE does not reconstruct
    recon = sae.decode(f, x) if sae.affine_skip_connection is not None else sae.decode(f)
    err = ((h - recon) * g).sum(-1)
    torch.testing.assert_close(a.error[1:], err[1:], rtol=1e-4, atol=1e-5)
    return nodes


def test_scores_and_nodes_match_a_hand_written_reference():
    scope = tiny_scope()
    attr = scope.attribute(TEXT, position=10)
    assert attr.position == 10 and len(attr.tokens) == 11
    top_id = int(torch.argmax(attr.probs))
    assert attr.target_id == top_id and attr.target_prob == pytest.approx(float(attr.probs.max()))
    nodes = check_against_reference(scope, attr, scope.sae, TEXT, 10, top_id)
    assert nodes["bias"] != 0 and nodes["error"] != 0 and nodes["bos"] != 0  # every node is really there


def test_a_contrast_attributes_the_logit_difference():
    scope = tiny_scope()
    attr = scope.attribute(TEXT, position=-1, target="x", contrast="y")
    tok = scope.tokenizer
    t, c = tok.convert_tokens_to_ids("x"), tok.convert_tokens_to_ids("y")
    assert (attr.target, attr.contrast) == ("x", "y")
    logits = torch.log(attr.probs)
    assert attr.metric == pytest.approx(float(logits[t] - logits[c]), abs=1e-4)
    check_against_reference(scope, attr, scope.sae, TEXT, len(TEXT), t, c)


def test_an_affine_transcoder_has_a_skip_node():
    scope = tiny_scope(("transcoder", 2))
    attr = scope.attribute(TEXT, position=7)
    nodes = check_against_reference(scope, attr, scope.sae, TEXT, 7, attr.target_id)
    assert nodes["skip"] != 0


def test_each_of_several_saes_gets_its_share_of_the_true_gradient():
    scope = tiny_scope(("resid_post", 2), ("resid_post", 0), ("transcoder", 1))
    attr = scope.attribute(TEXT, position=-1)
    assert attr.sae_names == [s.name for s in scope._saes]
    for sae in scope._saes:
        check_against_reference(scope, attr, sae, TEXT, len(TEXT), attr.target_id)
    other = scope._saes[1].name
    assert attr.top(3, sae=other) and attr.top(3, sae=other) != attr.top(3)


def test_queries_agree_with_each_other():
    scope = tiny_scope()
    attr = scope.attribute(TEXT)
    a = attr.scores()
    top = attr.top(5)
    assert len(top) == 5 and [abs(s) for *_, s in top] == sorted((abs(s) for *_, s in top), reverse=True)
    assert abs(top[0][2]) == pytest.approx(float(a.scores.abs().max()))
    per_token = attr.per_token()
    assert per_token.shape == (len(attr.tokens),) and per_token[0] == 0
    assert per_token.sum() == pytest.approx(float(a.scores.sum()), rel=1e-5, abs=1e-6)
    fid = top[0][1]
    column = attr.feature(fid)
    assert column[top[0][0]] == pytest.approx(top[0][2])
    by_feature = dict(attr.by_feature())
    assert by_feature[fid] == pytest.approx(float(column.sum()), rel=1e-5)
    assert attr.estimated_effect([fid]) == pytest.approx(-by_feature[fid])
    assert 0 <= attr.error <= 1
    assert [t for t, _ in attr.predictions(3)][0] == attr.target


def test_ablation_is_the_steering_ablation_and_nothing_at_zero():
    scope = tiny_scope()
    attr = scope.attribute(TEXT)
    assert attr.ablate([]) == pytest.approx(attr.target_prob, abs=1e-7)  # ablating nothing changes nothing
    fid = attr.top(1)[0][1]
    result = attr.ablate([fid], details=True)
    ids = scope.tokenizer(TEXT, return_tensors="pt").input_ids
    with scope.steer([fid], method="ablate"), torch.no_grad():
        logits = scope.model(input_ids=ids).logits[0, -1]
    assert result.target_prob == pytest.approx(float(torch.softmax(logits, -1)[attr.target_id]), rel=1e-5)
    assert result.change == pytest.approx(float(logits[attr.target_id]) - attr.metric, abs=1e-4)
    assert result.predictions[0][1] >= result.predictions[1][1]
    assert attr.ablation_effects([fid]) == [pytest.approx(result.change)]


def test_faithfulness_pairs_each_estimate_with_a_real_ablation():
    scope = tiny_scope()
    attr = scope.attribute(TEXT)
    report = attr.faithfulness(k=10)
    assert len(report.features) == 10 and all(math.isfinite(v) for v in report.estimated + report.real)
    assert -1 <= report.pearson <= 1
    assert report.real[0] == pytest.approx(attr.ablate([report.features[0]], details=True).change)


def test_one_token_of_context_gives_finite_scores():
    scope = tiny_scope()
    for text, position in (("a", 1), ("a", 0)):
        attr = scope.attribute(text, position=position)
        assert math.isfinite(attr.target_prob) and all(math.isfinite(v) for v in attr.nodes().values())
        assert np.isfinite(attr.per_token()).all()
    assert attr.top(5) == [] and attr.nodes()["features"] == 0  # after BOS alone: no features


def test_the_model_is_left_exactly_as_it_was():
    scope = tiny_scope()
    ids = scope.tokenizer(TEXT, return_tensors="pt").input_ids
    with torch.no_grad():
        before = scope.model(input_ids=ids).logits
    flags = [p.requires_grad for p in scope.model.parameters()]
    attr = scope.attribute(TEXT)
    attr.ablate([attr.top(1)[0][1]])
    assert hook_count(scope.model) == 0 and torch.is_grad_enabled()
    assert [p.requires_grad for p in scope.model.parameters()] == flags
    assert all(p.grad is None for p in scope.model.parameters())  # no weight gradients were computed
    with torch.no_grad():
        torch.testing.assert_close(scope.model(input_ids=ids).logits, before)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"position": 99}, "outside the text"),
        ({"position": 1.5}, "integers"),
        ({"target": "ab"}, "is 2 tokens"),
        ({"target": 10**6}, "outside the vocabulary"),
        ({"target": ""}, "non-empty token"),
        ({"target": "x", "contrast": "x"}, "same token"),
        ({"sae": "not-hooked"}, "no hooked SAE"),
    ],
)
def test_bad_input_gets_a_clear_error_and_touches_nothing(kwargs, message):
    scope = tiny_scope()
    with pytest.raises(ValueError, match=message):
        scope.attribute(TEXT, **kwargs)
    assert hook_count(scope.model) == 0 and torch.is_grad_enabled()


def test_bad_ablations_are_refused():
    scope = tiny_scope()
    attr = scope.attribute(TEXT)
    with pytest.raises(ValueError, match="unknown feature"):
        attr.ablate([10_000])
    with pytest.raises(ValueError, match="no attribution for the SAE"):
        attr.top(3, sae="nope")
    assert hook_count(scope.model) == 0


def test_wide_saes_are_encoded_in_chunks(monkeypatch):
    """The chunked search for active features gives the same scores as one big chunk."""
    scope = tiny_scope()
    whole = scope.attribute(TEXT).scores()
    monkeypatch.setitem(encoding.ENCODE_CHUNK_BYTES, "cpu", 64 * 4 * 3)  # three rows a chunk
    chunked = scope.attribute(TEXT).scores()
    torch.testing.assert_close(chunked.scores, whole.scores)
    assert torch.equal(chunked.positions, whole.positions) and torch.equal(chunked.features, whole.features)


def test_a_gemma_scope_2_folder_attributes(tmp_path):
    from factories import tiny_sae, write_gemma_scope_2

    model, tok = tiny_gemma()
    sae = tiny_sae(d_in=32, d_sae=48, layer=1, model_name=None)
    folder = write_gemma_scope_2(tmp_path, sae, "resid_post/layer_1_width_48_l0_small")
    scope = Scope(model, tok, str(folder))
    attr = scope.attribute(TEXT, target="t")
    check_against_reference(scope, attr, scope.sae, TEXT, len(TEXT), attr.target_id)
