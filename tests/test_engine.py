"""The engine on tiny random Gemma 3 models: features, early stop, steering, streaming, bad input."""

from __future__ import annotations

import math
import threading
import warnings

import numpy as np
import pytest
import torch

from scope_widgets import SAE, Scope
from scope_widgets.engine import hooks
from scope_widgets.widgets.wire import top_k_buffers
from tiny_models import hook_count, tiny_gemma, tiny_multimodal_gemma

TEXT = "The cat sat on the mat. <b>Paris</b>\n\tis big!"


def make_scope(layer: int = 1, d_sae: int = 64, site: str = "resid_post", seed: int = 0, **model_kw) -> Scope:
    model, tok = tiny_gemma(**model_kw)
    hidden = model.config.hidden_size
    sae = SAE.random(hidden, d_sae, site=site, layer=layer, seed=seed, threshold=0.05)
    return Scope(model, tok, sae)


def logits(scope: Scope, text: str = TEXT) -> torch.Tensor:
    ids = scope.tokenizer(text, return_tensors="pt").input_ids
    with torch.no_grad():
        return scope.model(input_ids=ids).logits


def reference_features(scope: Scope, text: str, layer: int) -> torch.Tensor:
    """Dense features from a plain full forward: hidden_states[L + 1] is the output of layer L."""
    ids = scope.tokenizer(text, return_tensors="pt").input_ids
    with torch.no_grad():
        hidden = scope.model(input_ids=ids, output_hidden_states=True).hidden_states[layer + 1][0]
        return scope.sae.encode(hidden)


@pytest.fixture
def scope():
    return make_scope()


# ----------------------------------------------------------------------------- features
def test_features_match_a_plain_forward(scope):
    acts = scope.features(TEXT, k=8)
    ref = reference_features(scope, TEXT, layer=1)  # [n, d_sae]
    assert acts.tokens[0] == "<bos>" and "".join(acts.tokens[1:]) == TEXT
    assert acts.top_ids.shape == (len(acts.tokens), 8) and acts.top_ids.dtype == np.int32
    assert acts.top_values.dtype == np.float32
    torch.testing.assert_close(torch.from_numpy(acts.dense()), ref, rtol=1e-5, atol=1e-5)
    for i in range(ref.shape[1]):
        np.testing.assert_allclose(acts.feature(i), ref[:, i].numpy(), rtol=1e-5, atol=1e-5)
    # top-k per token: the same values as a dense top-k
    np.testing.assert_allclose(acts.top_values, torch.topk(ref, 8, dim=-1).values.numpy(), rtol=1e-5, atol=1e-6)
    # top over the text excludes BOS
    best = ref[1:].max(dim=0).values
    expected = [(int(i), float(best[i])) for i in torch.argsort(best, descending=True)[:5] if best[i] > 0]
    got = acts.top(5)
    assert [i for i, _ in got] == [i for i, _ in expected]
    assert all(math.isclose(a, b, rel_tol=1e-5) for (_, a), (_, b) in zip(got, expected))
    # top_at, including more than k (recomputed exactly)
    at = acts.top_at(3, k=20)
    row = ref[3]
    assert [i for i, _ in at] == [int(i) for i in torch.argsort(row, descending=True)[:20] if row[i] > 0]


def test_features_stop_after_the_hooked_layer(scope):
    calls = []
    handles = [layer.register_forward_hook(lambda *a, i=i: calls.append(i)) for i, layer in enumerate(scope.model.model.layers)]
    head_calls = []
    handles.append(scope.model.lm_head.register_forward_hook(lambda *a: head_calls.append(1)))
    try:
        scope.features(TEXT)
    finally:
        for h in handles:
            h.remove()
    assert calls == [0, 1] and head_calls == []


def test_batched_features_equal_one_at_a_time(scope):
    texts = ["short", "a much longer text than the first one", TEXT]
    batched = scope.features(texts, k=6, batch_size=2)
    for text, acts in zip(texts, batched):
        single = scope.features(text, k=6)
        assert acts.tokens == single.tokens
        np.testing.assert_allclose(acts.dense(), single.dense(), rtol=1e-4, atol=1e-5)


def test_several_saes_in_one_forward_pass():
    model, tok = tiny_gemma()
    saes = [SAE.random(32, 48, layer=0, seed=1, threshold=0.05), SAE.random(32, 48, layer=2, seed=2, threshold=0.05)]
    saes[1]._cfg.name = "second"
    scope = Scope(model, tok, saes)
    calls = []
    handles = [layer.register_forward_hook(lambda *a, i=i: calls.append(i)) for i, layer in enumerate(model.model.layers)]
    try:
        both = scope.features(TEXT, sae="all")
    finally:
        for h in handles:
            h.remove()
    assert calls == [0, 1, 2]  # one pass, stopped after layer 2
    assert set(both) == {saes[0].name, "second"}
    np.testing.assert_allclose(both["second"].dense(), scope.features(TEXT, sae="second").dense(), rtol=1e-5, atol=1e-6)


def test_top_k_buffers_are_8_bytes_per_pair(scope):
    acts = scope.features(TEXT, k=16)
    buf = top_k_buffers(acts, k=16)
    n = len(acts.tokens)
    assert len(buf["top_ids"]) == n * 16 * 4 and len(buf["top_values"]) == n * 16 * 4
    ids = np.frombuffer(buf["top_ids"], dtype="<i4").reshape(n, 16)
    np.testing.assert_array_equal(ids, acts.top_ids[:, :16])


def test_multimodal_checkpoint_hooks_the_text_layers():
    model, tok = tiny_multimodal_gemma()
    sae = SAE.random(32, 48, layer=1, threshold=0.05)
    scope = Scope(model, tok, sae)
    acts = scope.features("hello world")
    assert len(acts.tokens) == 12 and acts.top(3)
    assert scope.n_layers == 3


def test_transcoder_features_read_the_mlp_input():
    model, tok = tiny_gemma()
    tc = SAE.random(32, 40, site="transcoder", layer=2, affine=True, threshold=0.05)
    scope = Scope(model, tok, tc)
    acts = scope.features(TEXT)
    x = hooks.capture_activations(model, [tc.hook_point_in], tok(TEXT, return_tensors="pt").input_ids)[tc.hook_point_in][0]
    np.testing.assert_allclose(acts.dense(), tc.encode(x).numpy(), rtol=1e-5, atol=1e-6)


# ----------------------------------------------------------------------------- steering
def steered_activation(scope: Scope, steer, method: str, text: str = TEXT) -> tuple[torch.Tensor, torch.Tensor]:
    """(activation at the SAE's output hook without steering, with steering)."""
    hook = scope.sae.hook_point_out
    ids = scope.tokenizer(text, return_tensors="pt").input_ids
    plain = hooks.capture_activations(scope.model, [hook], ids)[hook][0]
    seen = {}

    def grab(h):
        seen["h"] = h.detach().clone()

    # the steering hook was registered first, so a later hook sees the steered value
    with scope.steer(steer, method=method), hooks.edit_activations(scope.model, hook, grab):
        with torch.no_grad():
            scope.model(input_ids=ids)
    return plain, seen["h"][0]


def test_add_adds_the_decoder_direction_everywhere_but_bos(scope):
    plain, steered = steered_activation(scope, {5: 3.0}, "add")
    expected = plain + 3.0 * scope.sae.W_dec[5]
    torch.testing.assert_close(steered[1:], expected[1:])
    torch.testing.assert_close(steered[0], plain[0])


def test_clamp_sets_the_feature_and_keeps_the_error(scope):
    feature = int(scope.features(TEXT).top(1)[0][0])
    plain, steered = steered_activation(scope, {feature: 7.0}, "clamp")
    f = scope.sae.encode(plain)[:, feature]
    expected = plain + (7.0 - f)[:, None] * scope.sae.W_dec[feature]
    torch.testing.assert_close(steered[1:], expected[1:])
    _, ablated = steered_activation(scope, [feature], "ablate")
    torch.testing.assert_close(ablated[1:], (plain - f[:, None] * scope.sae.W_dec[feature])[1:])


def test_transcoder_clamp_reads_the_input_hook():
    model, tok = tiny_gemma()
    tc = SAE.random(32, 40, site="transcoder", layer=1, threshold=0.0)
    scope = Scope(model, tok, tc)
    ids = tok(TEXT, return_tensors="pt").input_ids
    x = hooks.capture_activations(model, [tc.hook_point_in], ids)[tc.hook_point_in][0]
    plain, steered = steered_activation(scope, {3: 2.0}, "clamp")
    f = tc.encode(x)[:, 3]
    torch.testing.assert_close(steered[1:], (plain + (2.0 - f)[:, None] * tc.W_dec[3])[1:])


def test_coefficient_zero_add_leaves_generation_identical(scope):
    plain = scope.generate("Once upon", max_new_tokens=12)
    assert scope.generate("Once upon", steer={3: 0.0}, max_new_tokens=12) == plain
    assert scope.generate("Once upon", steer={3: 40.0}, max_new_tokens=12) != plain
    assert hook_count(scope.model) == 0


def test_generated_positions_only_leave_the_prompt_alone(scope):
    seen = []
    hook = scope.sae.hook_point_out
    with hooks.edit_activations(scope.model, hook, lambda h: seen.append(h.detach().clone())):
        scope.generate("Once upon", max_new_tokens=3)
    plain_prompt = seen[0][0]
    seen.clear()
    # steering hook registered after the grabbing one: grab sees the unsteered input; check via outputs instead
    outs = []
    with scope.steer({2: 5.0}, positions="generated"), hooks.edit_activations(scope.model, hook, lambda h: outs.append(h.detach().clone())):
        ids = scope.tokenizer("Once upon", return_tensors="pt").input_ids
        with torch.no_grad():
            scope.model(input_ids=ids)
    steered = outs[0][0]
    torch.testing.assert_close(steered[:-1], plain_prompt[:-1])  # prompt untouched...
    torch.testing.assert_close(steered[-1], plain_prompt[-1] + 5.0 * scope.sae.W_dec[2])  # ...but the last token


def test_hooks_are_removed_after_an_exception(scope):
    before = logits(scope)
    with pytest.raises(KeyboardInterrupt):
        with scope.steer({1: 50.0}):
            assert hook_count(scope.model) == 1
            raise KeyboardInterrupt
    assert hook_count(scope.model) == 0
    torch.testing.assert_close(logits(scope), before)


def test_steering_is_scoped_to_the_thread_that_asked(scope):
    before = logits(scope)
    inside = threading.Event()
    release = threading.Event()
    result = {}

    def other_thread():
        with scope.steer({1: 50.0}):
            inside.set()
            release.wait(10)

    worker = threading.Thread(target=other_thread)
    worker.start()
    inside.wait(10)
    try:
        result["during"] = logits(scope)
    finally:
        release.set()
        worker.join()
    torch.testing.assert_close(result["during"], before)


def test_stream_yields_the_same_text_as_generate(scope):
    plain = scope.generate("Once upon", steer={4: 3.0}, max_new_tokens=15)
    stream = scope.stream("Once upon", steer={4: 3.0}, max_new_tokens=15)
    pieces = list(stream)
    assert "".join(pieces) == plain == stream.text
    assert stream.n_tokens == 15 and len(pieces) > 1
    assert hook_count(scope.model) == 0


def test_stream_can_be_cancelled_from_another_thread(scope):
    stream = scope.stream("Once upon", max_new_tokens=200)
    pieces = []
    for piece in stream:
        pieces.append(piece)
        if len(pieces) == 3:
            threading.Thread(target=stream.cancel).start()
    assert stream.cancelled and stream.n_tokens < 200
    assert hook_count(scope.model) == 0


def test_seeded_sampling_is_reproducible_and_leaves_global_rng(scope):
    state = torch.random.get_rng_state()
    a = scope.generate("Once", temperature=1.0, seed=3, max_new_tokens=10)
    b = scope.generate("Once", temperature=1.0, seed=3, max_new_tokens=10)
    assert a == b
    assert torch.equal(state, torch.random.get_rng_state())


def test_the_repetition_penalty_is_on_by_default_and_one_turns_it_off(scope):
    ids = scope.tokenizer("Once", return_tensors="pt")["input_ids"]

    def plain(penalty):
        with torch.no_grad():
            out = scope.model.generate(input_ids=ids, attention_mask=torch.ones_like(ids), max_new_tokens=24,
                                       do_sample=False, repetition_penalty=penalty, temperature=None, top_k=None, top_p=None)
        return scope.tokenizer.decode(out[0, ids.shape[1]:], skip_special_tokens=True)

    assert scope.generate("Once", max_new_tokens=24) == plain(1.1)
    assert scope.generate("Once", max_new_tokens=24, repetition_penalty=1.0) == plain(1.0)
    assert scope.generate("Once", max_new_tokens=24, repetition_penalty=2.0) == plain(2.0)
    assert plain(1.0) != plain(2.0)  # the tiny random model repeats itself without it
    streamed = "".join(scope.stream("Once", max_new_tokens=24, repetition_penalty=1.0))
    assert streamed == plain(1.0)


# ----------------------------------------------------------------------------- bad input
BAD_CALLS = [
    ("empty text", lambda s: s.features(""), "empty"),
    ("whitespace text", lambda s: s.features("  \n\t "), "empty"),
    ("not a string", lambda s: s.features(42), "string"),
    ("empty list", lambda s: s.features([]), "non-empty list"),
    ("bad k", lambda s: s.features("hi", k=0), "k must be"),
    ("unknown feature", lambda s: s.generate("hi", steer={10_000: 1.0}), "unknown feature 10000"),
    ("negative feature", lambda s: s.generate("hi", steer={-1: 1.0}), "unknown feature -1"),
    ("NaN coefficient", lambda s: s.generate("hi", steer={1: float("nan")}), "finite"),
    ("inf coefficient", lambda s: s.generate("hi", steer={1: float("inf")}), "finite"),
    ("absurd coefficient", lambda s: s.generate("hi", steer={1: 1e9}), "beyond"),
    ("string coefficient", lambda s: s.generate("hi", steer={1: "big"}), "must be a number"),
    ("bad method", lambda s: s.generate("hi", steer={1: 1.0}, method="multiply"), "unknown steering method"),
    ("bad positions", lambda s: s.generate("hi", steer={1: 1.0}, positions="some"), "unknown positions"),
    ("steer not a dict", lambda s: s.generate("hi", steer="lots"), "steer must be a dict"),
    ("empty prompt", lambda s: s.generate("   "), "empty"),
    ("zero new tokens", lambda s: s.generate("hi", max_new_tokens=0), "max_new_tokens"),
    ("no room for the prompt", lambda s: s.generate("hi", max_new_tokens=300), "leaves no room"),
    ("negative temperature", lambda s: s.generate("hi", temperature=-1), "temperature"),
    ("repetition penalty below 1", lambda s: s.generate("hi", repetition_penalty=0.5), "repetition_penalty must be a number from 1.0"),
    ("NaN repetition penalty", lambda s: s.stream("hi", repetition_penalty=float("nan")), "repetition_penalty"),
    ("string repetition penalty", lambda s: s.generate("hi", repetition_penalty="high"), "repetition_penalty"),
    ("stream bad feature", lambda s: s.stream("hi", steer={999: 1.0}), "unknown feature"),
    ("steer context bad", lambda s: s.steer({1: float("nan")}).__enter__(), "finite"),
    ("feature id out of range", lambda s: s.features("hi").feature(64), "unknown feature 64"),
    ("position out of range", lambda s: s.features("hi").top_at(99), "outside the text"),
]


@pytest.mark.parametrize("name,call,message", BAD_CALLS, ids=[b[0] for b in BAD_CALLS])
def test_bad_input_is_refused_and_the_model_is_untouched(scope, name, call, message):
    before = logits(scope)
    with pytest.raises((ValueError, TypeError), match=message):
        call(scope)
    assert hook_count(scope.model) == 0
    torch.testing.assert_close(logits(scope), before)


def test_sae_width_mismatch_is_refused():
    model, tok = tiny_gemma()
    with pytest.raises(ValueError, match="width 48"):
        Scope(model, tok, SAE.random(48, 64, layer=1))


def test_layer_beyond_the_model_is_refused():
    model, tok = tiny_gemma(layers=4)
    with pytest.raises(ValueError, match="reads layer 7, but this model has 4 layers"):
        Scope(model, tok, SAE.random(32, 64, layer=7))


def test_features_without_an_sae_say_what_to_do():
    model, tok = tiny_gemma()
    with pytest.raises(ValueError, match="no SAE"):
        Scope(model, tok).features("hello")


def test_too_long_text_is_truncated_with_a_warning():
    scope = make_scope(max_positions=64)
    with pytest.warns(UserWarning, match="only the first 64 are used"):
        acts = scope.features("x" * 200)
    assert len(acts.tokens) == 64 and acts.truncated
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert not scope.features("x" * 20).truncated


def test_scope_load_from_a_hub_cache_offline(tmp_path, monkeypatch):
    """The public path a researcher takes: a model id and a Gemma Scope 2 folder, from the HF cache, offline."""
    import huggingface_hub.constants as constants

    from factories import gemma_scope_2_files, make_fake_hub_cache

    model, tok = tiny_gemma(layers=3)
    model_dir = tmp_path / "tiny-gemma"
    model.save_pretrained(model_dir)
    tok.save_pretrained(model_dir)
    sae = SAE.random(32, 48, layer=2, seed=4, threshold=0.05)
    cache = tmp_path / "hf-cache"
    make_fake_hub_cache(cache, "google/gemma-scope-2-tiny-pt", gemma_scope_2_files(sae, "resid_post/layer_2_width_48_l0_small"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(cache))

    scope = Scope.load(str(model_dir), sae=("google/gemma-scope-2-tiny-pt", "resid_post/layer_2_width_48_l0_small"), device="cpu")
    assert scope.sae.layer == 2 and scope.sae.d_sae == 48 and scope.model.dtype == torch.float32
    acts = scope.features(TEXT)
    np.testing.assert_allclose(acts.dense(), Scope(model, tok, sae).features(TEXT).dense(), rtol=1e-5, atol=1e-6)


def test_long_texts_are_cut_on_the_cpu_with_advice_and_the_limit_can_be_raised(scope, monkeypatch):
    import scope_widgets.scope as S

    monkeypatch.setattr(S, "CPU_TOKEN_LIMIT", 40)
    text = "w " * 50  # 101 tokens with BOS (one per character)
    with pytest.warns(UserWarning, match=r"only the first 40 are used.*max_tokens= up to"):
        acts = scope.features(text)
    assert acts.truncated and acts.n_tokens == 40
    assert scope.feature_token_limit() == 40 and scope.feature_token_limit(60) == 60
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        full = scope.features(text, max_tokens=200)
    assert not full.truncated and full.n_tokens == 101
    with pytest.raises(ValueError, match="max_tokens"):
        scope.features(text, max_tokens=0)
