"""Feature dashboards on tiny random models: streaming top-N against brute force, histograms and density
against numpy, checkpoint resume, save/load, logit effects, Gemma Scope 2 examples, search."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest
import torch

from scope_widgets import SAE, Scope
from scope_widgets.analysis import activation_cache, sources
from scope_widgets.analysis.auto_labels import auto_label
from scope_widgets.analysis.corpus_pass import compute_dashboards as _compute
from scope_widgets.analysis.dashboards_file import Dashboards
from scope_widgets.analysis.gemma_scope_examples import GemmaScopeExamples
from scope_widgets.analysis.records import FeatureDashboardData
from scope_widgets.analysis.stats import HIST_EDGES
from scope_widgets.engine.unembed import logit_effects
from tiny_models import tiny_gemma

TEXTS = [
    "The cat sat on the mat.",
    "Paris is the capital of France, and Berlin is the capital of Germany.",
    "def f(x):\n    return x * 2  # double it",
    "1, 2, 3, 4, 5, 6, 7, 8, 9, 10",
    "She said: 'Hello there!' and he replied: 'Hi!'",
    "A long time ago, in a galaxy far, far away...",
    "SELECT * FROM users WHERE age > 30;",
    "The quick brown fox jumps over the lazy dog. The end.",
    "ok",
    "Numbers: 3.14159, 2.71828, 1.41421 and 1.73205 are famous.",
    "<html><body><p>Hi</p></body></html>",
    "To be, or not to be, that is the question.",
    "Zebras, yaks and xerus walk west.",
]
N_EX, CTX = 4, 3


def compute_dashboards(scope, texts, **kw):
    """The corpus pass on the scope's primary SAE (analysis takes a model, tokenizer and SAE)."""
    return _compute(scope.model, scope.tokenizer, scope.sae, texts, **kw)


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("SCOPE_WIDGETS_CACHE", str(tmp_path / "cache"))


def make_scope(d_sae: int = 48, layer: int = 1, seed: int = 0) -> Scope:
    model, tok = tiny_gemma()
    with torch.no_grad():  # a non-trivial final norm, so the logit formula's gain is tested
        model.model.norm.weight.copy_(torch.linspace(-0.5, 0.8, model.config.hidden_size))
    sae = SAE.random(model.config.hidden_size, d_sae, layer=layer, seed=seed, threshold=0.3)
    return Scope(model, tok, sae)


@pytest.fixture(scope="module")
def scope_and_dash():
    scope = make_scope()
    dash = compute_dashboards(scope, TEXTS, n_examples=N_EX, context=CTX, batch_size=3, progress=False)
    return scope, dash


def dense_per_text(scope, texts):
    """Brute force: the dense features of each text alone (BOS row dropped), as numpy."""
    return [scope.features(t).dense()[1:] for t in texts]


# ----------------------------------------------------------------------------- streaming = brute force
def test_running_top_n_equals_brute_force(scope_and_dash):
    scope, dash = scope_and_dash
    dense = dense_per_text(scope, TEXTS)
    for j in range(scope.sae.d_sae):
        best = []  # (value, doc, position incl. BOS)
        for doc, d in enumerate(dense):
            col = d[:, j]
            if col.max() > 0:
                best.append((float(col.max()), doc, int(col.argmax()) + 1))
        best.sort(key=lambda t: -t[0])
        got = dash.top_examples(j)
        assert len(got) == min(N_EX, len(best)), j
        np.testing.assert_allclose([ex["value"] for ex in got], [v for v, _, _ in best[:N_EX]], rtol=1e-4, atol=1e-5)
        for ex in got:
            # texts with the same beginning tie exactly (a causal model): any of the tied ones may be kept
            tied = [(d, p) for v, d, p in best if abs(v - ex["value"]) <= 1e-4 * max(1.0, abs(v))]
            assert (ex["doc"], ex["position"]) in tied, (j, ex, best[:N_EX])
            doc, pos = ex["doc"], ex["position"]
            # the context window: the feature's activation on each shown token, BOS never shown
            lo = max(1, pos - CTX)
            hi = min(len(dense[doc]) + 1, pos + CTX + 1)
            np.testing.assert_allclose(ex["values"], dense[doc][lo - 1 : hi - 1, j], rtol=1e-4, atol=1e-5)
            assert ex["max_pos"] == pos - lo
            ids = scope.tokenizer(TEXTS[doc])["input_ids"]
            assert ex["token_ids"] == ids[lo:hi]


def test_histogram_density_and_means_against_numpy(scope_and_dash):
    scope, dash = scope_and_dash
    dense = np.concatenate(dense_per_text(scope, TEXTS))  # [non-BOS tokens, d_sae]
    assert dash.n_tokens == dense.shape[0]
    np.testing.assert_array_equal(dash.active_count, (dense > 0).sum(0))
    np.testing.assert_allclose(dash.density, (dense > 0).mean(0))
    np.testing.assert_allclose(dash.max_activation, dense.max(0), rtol=1e-5)
    for j in range(dense.shape[1]):
        vals = dense[:, j][dense[:, j] > 0]
        expected, _ = np.histogram(np.clip(vals, HIST_EDGES[0], HIST_EDGES[-1] * 0.999), bins=HIST_EDGES.astype(np.float32))
        np.testing.assert_array_equal(dash.histogram_counts(j), expected)
        if len(vals):
            np.testing.assert_allclose(dash.mean_activation[j], vals.mean(), rtol=1e-4)
    data = dash.feature(int(np.argmax(dash.active_count)))
    assert sum(data.histogram["counts"]) == int(dash.active_count.max())
    assert len(data.histogram["edges"]) == len(data.histogram["counts"]) + 1


def test_bos_and_padding_never_count():
    scope = make_scope()
    # one batch mixing lengths: the short texts are padded
    dash = compute_dashboards(scope, ["a", "a much longer text", "mid text"], n_examples=2, context=2, batch_size=3, progress=False)
    assert dash.n_tokens == 1 + 18 + 8


# ----------------------------------------------------------------------------- checkpoint
def test_resume_from_checkpoint_is_identical(tmp_path, monkeypatch):
    scope = make_scope(seed=3)
    full = compute_dashboards(scope, TEXTS, n_examples=N_EX, context=CTX, batch_size=2, progress=False)
    ckpt = tmp_path / "run.ckpt"
    real = activation_cache.hooks.capture_activations
    calls = []

    def failing(*args, **kwargs):
        calls.append(1)
        if len(calls) == 4:
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    monkeypatch.setattr(activation_cache.hooks, "capture_activations", failing)
    with pytest.raises(KeyboardInterrupt):
        compute_dashboards(scope, TEXTS, n_examples=N_EX, context=CTX, batch_size=2, progress=False,
                           checkpoint=ckpt, checkpoint_every=1)
    assert ckpt.exists()
    calls.clear()
    counted = []
    monkeypatch.setattr(activation_cache.hooks, "capture_activations", lambda *a, **k: (counted.append(a[2].shape[0]), real(*a, **k))[1])
    resumed = compute_dashboards(scope, TEXTS, n_examples=N_EX, context=CTX, batch_size=2, progress=False,
                                 checkpoint=ckpt, checkpoint_every=1)
    assert sum(counted) == len(TEXTS) - 6  # three batches of two were done before the interruption
    assert not ckpt.exists()
    assert set(full.arrays) == set(resumed.arrays)
    for key in full.arrays:
        np.testing.assert_array_equal(full.arrays[key], resumed.arrays[key], err_msg=key)
    assert full.auto_labels == resumed.auto_labels


def test_activation_cache_skips_the_model(tmp_path, monkeypatch):
    scope = make_scope(seed=4)
    first = compute_dashboards(scope, TEXTS, n_examples=N_EX, context=CTX, batch_size=3, progress=False,
                               activation_cache=tmp_path / "acts")
    assert len(list((tmp_path / "acts").rglob("*.safetensors"))) == len(TEXTS)
    monkeypatch.setattr(activation_cache.hooks, "capture_activations", lambda *a, **k: pytest.fail("the model ran"))
    # another SAE at the same hook point, other batching: all from the cache
    again = compute_dashboards(scope, TEXTS, n_examples=N_EX, context=CTX, batch_size=5, progress=False,
                               activation_cache=tmp_path / "acts")
    # the cache holds float16: a few activations right at a threshold may flip
    np.testing.assert_allclose(again.active_count, first.active_count, rtol=0.02, atol=1)
    np.testing.assert_allclose(first.arrays["ex_value"], again.arrays["ex_value"], rtol=5e-3, atol=5e-3)


def test_checkpoint_for_other_texts_is_refused(tmp_path, monkeypatch):
    scope = make_scope()
    ckpt = tmp_path / "run.ckpt"
    real = activation_cache.hooks.capture_activations
    calls = []

    def failing(*args, **kwargs):
        calls.append(1)
        if len(calls) == 3:
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    monkeypatch.setattr(activation_cache.hooks, "capture_activations", failing)
    with pytest.raises(KeyboardInterrupt):
        compute_dashboards(scope, TEXTS, batch_size=2, progress=False, checkpoint=ckpt, checkpoint_every=1)
    monkeypatch.setattr(activation_cache.hooks, "capture_activations", real)
    with pytest.raises(ValueError, match="other texts"):
        compute_dashboards(scope, list(reversed(TEXTS)), batch_size=2, progress=False, checkpoint=ckpt)
    with pytest.raises(ValueError, match="other settings"):
        compute_dashboards(scope, TEXTS, batch_size=2, n_examples=3, progress=False, checkpoint=ckpt)


# ----------------------------------------------------------------------------- files
def test_save_load_round_trip(scope_and_dash, tmp_path):
    scope, dash = scope_and_dash
    old_umask = os.umask(0o022)
    try:
        out = dash.save(tmp_path / "dash")
    finally:
        os.umask(old_umask)
    assert sorted(p.name for p in out.iterdir()) == ["dashboards.safetensors", "labels.json", "meta.json"]
    assert all(p.stat().st_mode & 0o444 == 0o444 for p in out.iterdir())  # package data: readable by all
    back = Dashboards.load(out, tokenizer=scope.tokenizer)
    assert back.meta == json.loads(json.dumps(dash.meta))
    assert back.auto_labels == dash.auto_labels
    np.testing.assert_array_equal(back.active_count, dash.active_count)
    np.testing.assert_array_equal(back.arrays["tokens"], dash.arrays["tokens"])
    for j in range(dash.d_sae):
        a, b = dash.feature(j, scope.tokenizer), back.feature(j)
        assert a.histogram == b.histogram and a.density == b.density and a.label == b.label
        assert len(a.top_examples) == len(b.top_examples)
        for ea, eb in zip(a.top_examples, b.top_examples):
            assert ea["tokens"] == eb["tokens"] and ea["max_pos"] == eb["max_pos"]
            # on disk: uint8 steps of each example's largest value (float16)
            np.testing.assert_allclose(eb["values"], ea["values"], rtol=0, atol=max(ea["values"]) * (0.5 / 255 + 1e-3))
        assert [t for t, _ in a.logits_promoted] == [t for t, _ in b.logits_promoted]
        np.testing.assert_allclose([v for _, v in b.logits_suppressed], [v for _, v in a.logits_suppressed], rtol=2e-3, atol=1e-3)
    # compact: token ids stored as int32, values as float16
    from safetensors.numpy import load_file

    raw = load_file(str(out / "dashboards.safetensors"))
    assert raw["tokens"].dtype == np.int32 and raw["ex_value"].dtype == np.float16
    # stored() holds what a reload reads, bit for bit, so the labels made from it (compute_dashboards' own)
    # are the labels that relabelling the saved dashboards makes
    stored = dash.stored().arrays
    assert sorted(stored) == sorted(back.arrays)
    for k, v in stored.items():
        assert v.dtype == back.arrays[k].dtype, k
        np.testing.assert_array_equal(v, back.arrays[k], err_msg=k)
    assert back.compute_auto_labels() == dash.auto_labels


def test_feature_dashboard_data_contract(scope_and_dash):
    scope, dash = scope_and_dash
    j = int(np.argmax(dash.active_count))
    data = dash.feature(j, scope.tokenizer)
    assert isinstance(data, FeatureDashboardData) and data.feature == j
    assert 0 < data.density <= 1 and data.max_activation >= data.mean_activation > 0
    assert len(data.top_examples) == N_EX
    for ex in data.top_examples:
        assert len(ex["tokens"]) == len(ex["values"]) and 0 <= ex["max_pos"] < len(ex["tokens"])
        assert ex["values"][ex["max_pos"]] == max(ex["values"]) or ex["values"][ex["max_pos"]] > 0
        assert "<bos>" not in ex["tokens"]
    assert len(data.logits_promoted) == len(data.logits_suppressed) == 10
    assert data.logits_promoted[0][1] >= data.logits_promoted[-1][1]
    assert data.logits_suppressed[0][1] <= data.logits_suppressed[-1][1]
    assert data.label_source in ("auto", None)
    json.dumps(data.to_dict())  # JSON-able


def test_scope_dashboard_computes_once_on_the_builtin_corpus():
    scope = make_scope(d_sae=32)
    first = scope.dashboard(3)
    assert scope.dashboards() is scope.dashboards()  # cached per SAE
    assert first.n_tokens > 1000 and "built-in" in first.source
    with pytest.raises(ValueError, match="unknown feature"):
        scope.dashboard(32)


# ----------------------------------------------------------------------------- logit effects
def test_logit_effects_match_the_formula():
    scope = make_scope()
    model, sae = scope.model, scope.sae
    gain = 1.0 + model.model.norm.weight.detach()
    direct = (sae.W_dec * gain) @ model.lm_head.weight.detach().T  # [d_sae, vocab]
    got = logit_effects(model, sae, n=10)
    top = direct.topk(10, dim=1)
    bottom = direct.topk(10, dim=1, largest=False)
    torch.testing.assert_close(got["top_values"], top.values)
    torch.testing.assert_close(got["bottom_values"], bottom.values)
    assert torch.equal(got["top_ids"].long(), top.indices)
    torch.testing.assert_close(got["mean"], direct.mean(1), rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(got["std"], direct.std(1, unbiased=False), rtol=1e-3, atol=1e-5)
    # the same per feature subset, as used for single dashboards
    sub = logit_effects(model, sae, n=5, features=[7, 2])
    torch.testing.assert_close(sub["top_values"], top.values[[7, 2], :5])


# ----------------------------------------------------------------------------- automatic labels
def test_auto_label_from_tokens_and_logits():
    examples = [(" Paris", " in", 5.0), ("Paris", " of", 4.0), (" France", " in", 3.0), (" France", " of", 2.5), (" Lyon", " in", 1.0)]
    assert auto_label(examples, [" French", " Paris", "<unused5>"]) == "Paris / France → French"
    # nothing repeats, but the token before does
    assert auto_label([("a", "(", 3.0), ("b", "(", 2.0), ("c", "(", 1.5), ("d", " x", 1.0)], [")"]) == "a / b / c … (after () → )"
    # a class of words between the same neighbours: its words, then where it sits
    heads = [(" malt", "\n\n", 6.0), (" birch", "\n\n", 5.0), (" pug", "\n\n", 5.0), ("lib", "_", 4.0), (" ash", "\n\n", 4.0)]
    assert auto_label(heads, nexts=[":", ":", " (", "'", ":"]) == "malt / birch / pug … (after \\n, before :)"
    assert auto_label([], [" x"]) is None
    assert auto_label([("\n", ".", 1.0), ("\n", "!", 1.0)]) == "\\n"


def test_dashboards_carry_auto_labels(scope_and_dash):
    scope, dash = scope_and_dash
    active = np.nonzero(dash.active_count)[0]
    assert all(dash.auto_labels[i] for i in active)
    assert all(dash.auto_labels[i] is None for i in np.nonzero(dash.active_count == 0)[0])
    assert scope.dashboard(int(active[0])).label_source == "auto"


# ----------------------------------------------------------------------------- Gemma Scope 2 examples
def write_examples(path, scope, texts, k_keep: int = 6, extra_key: bool = True):
    """An examples.safetensors in Gemma Scope 2's layout, with real activations of the tiny model."""
    from safetensors.torch import save_file

    tok, sae = scope.tokenizer, scope.sae
    seq_len = 64
    rows = [tok(t)["input_ids"][:seq_len] for t in texts]
    tokens = torch.zeros(len(rows), seq_len, dtype=torch.int32)
    for r, ids in enumerate(rows):
        tokens[r, : len(ids)] = torch.tensor(ids)
    dense = [torch.from_numpy(scope.features(t).dense()) for t in texts]  # [n, d] with BOS
    F = sae.d_sae
    acts = torch.zeros(F, k_keep)
    seqs = torch.full((F, k_keep), -1, dtype=torch.int32)
    poss = torch.zeros(F, k_keep, dtype=torch.int32)
    for j in range(F):
        cands = sorted(((float(d[1:, j].max()), s, int(d[1:, j].argmax()) + 1) for s, d in enumerate(dense)), reverse=True)
        cands = [c for c in cands if c[0] > 0][:k_keep]
        for slot, (v, s, p) in enumerate(reversed(cands)):  # stored in ascending order: the reader sorts
            acts[j, slot], seqs[j, slot], poss[j, slot] = v, s, p
    eff = logit_effects(scope.model, sae, n=10)
    tensors = {
        "activations": acts, "seq_ids": seqs, "positions": poss, "tokens": tokens,
        "top_tokens": eff["top_ids"], "top_logits": eff["top_values"],
        "bottom_tokens": eff["bottom_ids"], "bottom_logits": eff["bottom_values"],
        "feature_frequencies": torch.rand(F) * 0.01,
    }
    if extra_key:
        tensors["something_new"] = torch.zeros(3)
    save_file(tensors, str(path))
    return tensors


def test_gemma_scope_2_examples_are_read_not_recomputed(tmp_path, monkeypatch):
    scope = make_scope()
    folder = tmp_path / "resid_post" / "layer_1_width_48_l0_small"
    scope.sae.save_pretrained(folder)
    written = write_examples(folder / "examples.safetensors", scope, TEXTS)
    sae = SAE.from_pretrained(folder)
    assert sae.examples_path
    scope2 = Scope(scope.model, scope.tokenizer, sae)
    monkeypatch.setattr(sources, "compute_dashboards", lambda *a, **k: pytest.fail("recomputed"))
    j = int(torch.argmax((written["activations"] > 0).sum(1)))
    data = scope2.dashboard(j)
    stored = written["activations"][j]
    assert len(data.top_examples) == int((stored > 0).sum())
    maxes = [ex["values"][ex["max_pos"]] for ex in data.top_examples]
    np.testing.assert_allclose(maxes, sorted(stored[stored > 0].tolist(), reverse=True), rtol=1e-4, atol=1e-5)
    assert all("<bos>" not in ex["tokens"] for ex in data.top_examples)
    assert [t for t, _ in data.logits_promoted] == scope.token_strings(written["top_tokens"][j].tolist())
    np.testing.assert_allclose(data.density, float(written["feature_frequencies"][j]), rtol=1e-6)
    assert "examples.safetensors" in data.source
    assert data.label_source == "auto" and scope2.label(j) == data.label  # labels made from the examples
    json.dumps(data.to_dict())
    hits = scope2.search("capital")  # search works from the examples' statistics too
    assert hits and all(h.why in ("activation", "logits", "both") for h in hits)
    by_examples = scope2.search(examples=TEXTS[:3], k=3)  # its near-ties broken by the examples' stored maxima
    peaks = written["activations"].float().amax(1)
    assert by_examples and all(0 <= h.extra["peak_share"] <= 1 for h in by_examples)
    h = by_examples[0]
    assert h.extra["peak_share"] == pytest.approx(min(1.0, h.extra["mean_in"] / max(float(peaks[h.feature]), 1e-6)), rel=1e-4)


def test_examples_file_with_the_wrong_keys_is_refused(tmp_path):
    from safetensors.torch import save_file

    save_file({"acts": torch.zeros(2, 3)}, str(tmp_path / "examples.safetensors"))
    with pytest.raises(ValueError, match=r"does not look like a Gemma Scope 2 examples.safetensors.*seq_ids"):
        GemmaScopeExamples(tmp_path / "examples.safetensors")


# ----------------------------------------------------------------------------- search
def plant_feature(scope, char: str, j: int):
    """Make feature j of the scope's SAE the `char` feature: give `char` a distinctive input embedding
    (the output embedding untied and unchanged), point the encoder along the residual direction that
    separates `char` tokens from the rest and the decoder along the unembedding row of `char`."""
    tok, sae, model = scope.tokenizer, scope.sae, scope.model
    tid = tok.convert_tokens_to_ids(char)
    with torch.no_grad():
        model.lm_head.weight = torch.nn.Parameter(model.lm_head.weight.detach().clone())
        model.model.embed_tokens.weight[tid] *= 40.0
    on, off = [], []
    for text in TEXTS + [f"{char}aris and {char}eter met {char}aul."]:
        acts = scope.features(text)
        ids = torch.from_numpy(acts.token_ids[1:])
        on.append(acts.inputs[1:][ids == tid])
        off.append(acts.inputs[1:][ids != tid])
    on, off = torch.cat(on), torch.cat(off)
    u = on.mean(0) - off.mean(0)
    u = u / u.norm()
    with torch.no_grad():
        sae.w_enc[:, j] = u
        sae.b_enc[j] = 0.0
        sae.threshold[j] = float((off @ u).max()) + 1e-3
        w = model.lm_head.weight[tid]
        sae.w_dec[j] = w / w.norm()
    assert float((on @ u).min()) > float(sae.threshold[j])


def test_search_finds_a_planted_feature(monkeypatch):
    # the tiny random model knows nothing of what WordNet says of "P" (a letter, phosphorus, ...): search
    # reads the word in its frames only here; the definitions are tested in test_search.py
    monkeypatch.setattr("scope_widgets.analysis.search.glosses", lambda word: [])
    scope = make_scope(d_sae=64, layer=0, seed=5)
    with torch.no_grad():
        scope.model.model.norm.weight.zero_()
    plant_feature(scope, "P", 17)
    hits = scope.search("P", k=5, generate=False)
    assert hits[0].feature == 17, hits
    assert hits[0].why == "both" and hits[0].activation_score >= 0.9
    assert hits[0].score > hits[1].score
    assert hits[0].label is not None  # the automatic label made with the dashboards
    assert set(hits[0].to_dict()) >= {"feature", "score", "label", "why"}
    # with a user label, search shows it
    scope.set_label(17, "capital P")
    assert scope.search("P", k=1, generate=False)[0].label == "capital P"
    with pytest.raises(ValueError):
        scope.search("   ")


# ----------------------------------------------------------------------------- rates on everyday text
def test_everyday_rates_are_counted_written_and_read_back(tmp_path, monkeypatch):
    from scope_widgets.analysis import background

    scope = make_scope()
    texts = ["A dog ran across the yard.", "We ate soup for dinner.", "The train was late again."]
    monkeypatch.setattr(sources, "everyday_texts", lambda: list(texts))
    brute = sum((d > 0).sum(0) for d in dense_per_text(scope, texts))
    n = sum(d.shape[0] for d in dense_per_text(scope, texts))
    counts, n_tokens = background.firing_counts(scope.model, scope.tokenizer, scope.sae, texts, batch_size=2)
    np.testing.assert_array_equal(counts, brute)
    assert n_tokens == n
    path = sources.write_everyday_rates(scope.model, scope.tokenizer, scope.sae, tmp_path)
    calls = []
    monkeypatch.setattr(sources, "firing_counts", lambda *a, **k: calls.append(1) or (np.zeros(scope.sae.d_sae), 0))
    got, got_n = sources.everyday_rates(scope.model, scope.tokenizer, scope.sae, tmp_path)
    np.testing.assert_array_equal(got, brute)
    assert got_n == n and not calls  # read from the file, not counted again
    # a file made for other texts, or another SAE, is not used: the rates are counted
    data = json.loads(path.read_text())
    for key, value in (("texts_sha256", "0" * 64), ("sae_fingerprint", "other")):
        path.write_text(json.dumps({**data, key: value}))
        sources.everyday_rates(scope.model, scope.tokenizer, scope.sae, tmp_path)
    assert len(calls) == 2


# ----------------------------------------------------------------------------- the embedded default
@pytest.mark.slow
def test_embedded_default_dashboard_and_search():
    from scope_widgets.engine.models import DEFAULT_SAE_DIR

    if not (DEFAULT_SAE_DIR / "params.safetensors").exists():
        pytest.skip("the default SAE is not bundled yet")
    scope = Scope.load(device="cpu")
    acts = scope.features("The Eiffel Tower is in Paris, the capital of France.")
    feature = acts.top(1)[0][0]
    data = scope.dashboard(feature)
    assert len(data.top_examples) >= 10
    assert data.label_source in ("auto", "user") and data.label
    assert data.density > 0 and len(data.logits_promoted) == 10
    hits = scope.search("Paris")
    assert hits and all(h.why in ("activation", "logits", "both") for h in hits)
