"""Gemma Scope 1 transcoders read the pre-MLP RMSNorm's output *without* its (1 + w) gain (issue 10, point 2).

A tiny random Gemma 2 with random, far-from-zero norm weights (so the gain matters), a random transcoder
written as Gemma Scope 1 ships it (params.npz, no config), and a reference written out by hand from the
model's own modules: the SAE must read ``x / rms(x)`` of the norm's input, in features and in clamp steering.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from factories import tiny_sae, write_gemma_scope_1
from tiny_models import SPECIALS, CHARS, char_tokenizer

import scope_widgets as sw
from scope_widgets.saes import SAE, SAEConfig

LAYER = 1
FOLDER = f"layer_{LAYER}/width_16k/average_l0_12"
TEXT = "The quick brown fox jumps over the lazy dog."
EPS = 1e-6  # Gemma 2's rms_norm_eps


def tiny_gemma2(hidden: int = 32, seed: int = 0):
    from transformers import Gemma2Config, Gemma2ForCausalLM

    torch.manual_seed(seed)
    config = Gemma2Config(
        vocab_size=len(SPECIALS) + len(CHARS), hidden_size=hidden, intermediate_size=2 * hidden,
        num_hidden_layers=3, num_attention_heads=2, num_key_value_heads=1, head_dim=16,
        max_position_embeddings=256, sliding_window=16, query_pre_attn_scalar=16, rms_norm_eps=EPS,
        pad_token_id=0, eos_token_id=1, bos_token_id=2,
    )
    model = Gemma2ForCausalLM(config).eval()
    with torch.no_grad():  # Gemma's norms start at w = 0 (gain 1): make every gain matter
        for name, p in model.named_parameters():
            if name.endswith("norm.weight"):
                p.copy_(torch.randn_like(p) * 0.8)
    return model


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    model = tiny_gemma2()
    sae = tiny_sae(32, 48, site="transcoder", layer=LAYER, seed=3, model_name=None)
    root = tmp_path_factory.mktemp("gs1") / "gemma-scope-2b-pt-transcoders"
    write_gemma_scope_1(root, sae, FOLDER)
    loaded = SAE.from_pretrained(root, FOLDER)
    return model, loaded, root


def captured(model, text: str) -> tuple[torch.Tensor, torch.Tensor]:
    """(input, output) of layer LAYER's pre-MLP norm, [n, d], by plain torch hooks."""
    seen = {}
    norm = model.model.layers[LAYER].pre_feedforward_layernorm
    h = norm.register_forward_hook(lambda m, args, out: seen.update(x=args[0][0], y=out[0]))
    try:
        with torch.no_grad():
            model(**char_tokenizer()(text, return_tensors="pt"))
    finally:
        h.remove()
    return seen["x"].double(), seen["y"].double()


def reference_features(sae: SAE, x: torch.Tensor) -> np.ndarray:  # [n, d] float64 -> [n, d_sae]
    w_enc, b_enc, thr = (p.detach().double() for p in (sae.w_enc, sae.b_enc, sae.threshold))
    pre = x @ w_enc + b_enc
    return (pre * ((pre > thr) & (pre > 0))).numpy()


def test_gs1_transcoder_config_reads_the_norm_input_and_normalises_it(setup):
    _, sae, _ = setup
    assert sae.site == "transcoder" and sae.cfg.model_name == "google/gemma-2-2b"
    assert sae.hook_point_in == f"model.layers.{LAYER}.pre_feedforward_layernorm.input"
    assert sae.hook_point_out == f"model.layers.{LAYER}.post_feedforward_layernorm.output"
    assert (sae.cfg.input_norm, sae.cfg.input_norm_eps) == ("rms", EPS)
    assert "RMS-normalised input" in repr(sae)


def test_features_match_the_gainless_norm_reference(setup):
    model, sae, _ = setup
    x, y = captured(model, TEXT)
    gainless = x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + EPS)
    expected = reference_features(sae, gainless)
    with_gain = reference_features(sae, y)  # what the loader read before: the norm's output, gain included
    assert np.abs(expected - with_gain).max() > 0.1, "the gain must matter here, or this test proves nothing"
    assert (expected[1:] > 0).sum() >= 10, "some features must fire"

    scope = sw.Scope(model, char_tokenizer(), sae)
    acts = scope.features(TEXT, k=sae.d_sae)
    np.testing.assert_allclose(acts.dense(), expected, rtol=1e-4, atol=1e-5)
    i = int(np.argmax(expected[1:].max(0)))
    np.testing.assert_allclose(acts.feature(i), expected[:, i], rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(sae.encode_feature(acts.inputs, i).numpy(), expected[:, i], rtol=1e-4, atol=1e-5)


def test_clamp_steering_reads_the_normalised_input(setup):
    """ablate = clamp to 0: the layer's output moves by -f_i(x) W_dec[i] with f_i from the gainless input."""
    model, sae, _ = setup
    x, _ = captured(model, TEXT)
    f = reference_features(sae, x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + EPS))
    i = int(np.argmax(f[1:].max(0)))
    scope = sw.Scope(model, char_tokenizer(), sae)
    ids = char_tokenizer()(TEXT, return_tensors="pt")

    def layer_out():
        seen = {}
        h = model.model.layers[LAYER].register_forward_hook(
            lambda m, a, out: seen.update(h=(out[0] if isinstance(out, tuple) else out)[0].double()))
        try:
            with torch.no_grad():
                model(**ids)
        finally:
            h.remove()
        return seen["h"]

    clean = layer_out()
    with scope.steer({i: 0.0}, method="clamp"):
        ablated = layer_out()
    expected = -torch.from_numpy(f[:, i])[:, None] * sae.W_dec[i].detach().double()
    expected[0] = 0  # BOS is never steered
    torch.testing.assert_close(ablated - clean, expected, rtol=1e-4, atol=1e-4)


def test_input_norm_round_trips_through_save_pretrained(setup, tmp_path):
    _, sae, _ = setup
    out = sae.save_pretrained(tmp_path / "saved")
    again = SAE.from_pretrained(out)
    assert again.cfg.input_norm == "rms" and again.cfg.input_norm_eps == EPS
    assert again.hook_point_in == sae.hook_point_in
    x = torch.randn(5, 32, dtype=torch.float64) * 40  # a large residual norm: the SAE sees it normalised
    torch.testing.assert_close(again.encode(x), sae.encode(x))
    torch.testing.assert_close(sae.encode(x), sae.encode(x / 40))


def test_input_norm_is_validated():
    with pytest.raises(ValueError, match="unknown input_norm 'layer'"):
        SAEConfig(8, 16, layer=0, input_norm="layer")
    with pytest.raises(ValueError, match="input_norm_eps must be a positive number"):
        SAEConfig(8, 16, layer=0, input_norm="rms", input_norm_eps=0)
    with pytest.raises(ValueError, match="input_norm_eps must be a positive number"):
        SAEConfig.from_gemma_scope_2({"width": 16, "hf_hook_point_in": "model.layers.0.output",
                                      "input_norm": "rms", "input_norm_eps": None}, d_in=8)
