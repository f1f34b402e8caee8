"""scope_widgets.saes: the JumpReLU math against a plain reference, configs, loaders, and every bad input.

No network: hub tests use a fake huggingface_hub cache with offline mode switched on.
"""

from __future__ import annotations

import importlib
import json
import sys
import types
from pathlib import Path

import numpy as np
import pytest
import torch
from factories import (
    FAKE_COMMIT,
    gemma_scope_1_files,
    gemma_scope_2_files,
    make_fake_hub_cache,
    tiny_sae,
    write_gemma_scope_1,
    write_gemma_scope_2,
)
from safetensors.torch import save_file

from scope_widgets.saes import SAE, SAEConfig, SAELoadError, default_hook_points

GS2_REPO = "google/gemma-scope-2-270m-pt"
GS2_FOLDER = "resid_post/layer_3_width_16k_l0_medium"


# ---------------------------------------------------------------------------------------------------
# a reference written out plainly


def reference_encode(sae: SAE, x: np.ndarray) -> np.ndarray:  # [n, d_in] -> [n, d_sae]
    w_enc, b_enc, thr = (p.detach().double().numpy() for p in (sae.w_enc, sae.b_enc, sae.threshold))
    out = np.zeros((x.shape[0], sae.d_sae))
    for n in range(x.shape[0]):
        for i in range(sae.d_sae):
            pre = sum(x[n, j] * w_enc[j, i] for j in range(sae.d_in)) + b_enc[i]
            out[n, i] = pre if (pre > thr[i] and pre > 0) else 0.0
    return out


def reference_decode(sae: SAE, f: np.ndarray, x: np.ndarray | None = None) -> np.ndarray:  # -> [n, d_out]
    w_dec, b_dec = sae.w_dec.detach().double().numpy(), sae.b_dec.detach().double().numpy()
    out = f @ w_dec + b_dec
    if sae.affine_skip_connection is not None:
        out = out + x @ sae.affine_skip_connection.detach().double().numpy()
    return out


def sample(sae: SAE, n: int = 6, seed: int = 1) -> torch.Tensor:
    return torch.randn(n, sae.d_in, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)


# ---------------------------------------------------------------------------------------------------
# the math


def test_encode_decode_match_reference():
    sae = tiny_sae(16, 32, dtype=torch.float64)
    x = sample(sae)
    f = sae.encode(x)
    np.testing.assert_allclose(f.numpy(), reference_encode(sae, x.numpy()), atol=1e-12)
    assert 0 < int((f > 0).sum()) < f.numel()  # some fire, some do not
    np.testing.assert_allclose(sae.decode(f).numpy(), reference_decode(sae, f.numpy()), atol=1e-12)
    np.testing.assert_allclose(sae(x).numpy(), reference_decode(sae, f.numpy()), atol=1e-12)


def test_no_b_dec_is_subtracted_from_the_input():
    sae = tiny_sae(16, 32, dtype=torch.float64)
    x = sample(sae)
    expected = torch.relu(x @ sae.w_enc + sae.b_enc)
    expected = expected * (x @ sae.w_enc + sae.b_enc > sae.threshold)
    torch.testing.assert_close(sae.encode(x), expected)


def test_threshold_edge_pre_equal_to_threshold_is_not_active():
    sae = tiny_sae(16, 32, dtype=torch.float64)
    with torch.no_grad():
        sae.w_enc.zero_()
        sae.b_enc.copy_(sae.threshold)  # pre == threshold exactly, for every input
    x = sample(sae)
    assert torch.count_nonzero(sae.encode(x)) == 0
    assert torch.count_nonzero(sae.encode_feature(x, 3)) == 0
    with torch.no_grad():
        sae.b_enc.copy_(sae.threshold + 1e-9)  # just above: every feature fires with value pre
    torch.testing.assert_close(sae.encode(x), (sae.threshold + 1e-9).expand(6, -1))


def test_negative_threshold_still_relus():
    sae = tiny_sae(16, 32, dtype=torch.float64)
    with torch.no_grad():
        sae.threshold.fill_(-10.0)
    x = sample(sae)
    torch.testing.assert_close(sae.encode(x), torch.relu(x @ sae.w_enc + sae.b_enc))


@pytest.mark.parametrize("affine", [False, True])
def test_transcoder_matches_reference(affine):
    tc = tiny_sae(24, 40, d_out=20, site="transcoder", layer=2, affine=affine, dtype=torch.float64)
    assert tc.is_transcoder and tc.d_out == 20 and tc.is_affine == affine
    assert tc.hook_point_in == "model.layers.2.pre_feedforward_layernorm.output"
    assert tc.hook_point_out == "model.layers.2.post_feedforward_layernorm.output"
    x = sample(tc)
    f = tc.encode(x)
    expected = reference_decode(tc, reference_encode(tc, x.numpy()), x.numpy())
    np.testing.assert_allclose(tc(x).numpy(), expected, atol=1e-12)
    np.testing.assert_allclose(tc.decode(f, x).numpy(), expected, atol=1e-12)
    assert tc(x).shape == (6, 20)


def test_affine_decode_without_x_says_so():
    tc = tiny_sae(16, 32, site="transcoder", affine=True)
    with pytest.raises(ValueError, match=r"affine transcoder.*needs the input x"):
        tc.decode(tc.encode(torch.randn(2, 16)))


def test_encode_feature_is_one_column_of_encode():
    sae = tiny_sae(16, 64)
    x = torch.randn(3, 5, 16)  # leading dims are kept
    f = sae.encode(x)
    assert f.shape == (3, 5, 64)
    for i in (0, 17, 63):
        fi = sae.encode_feature(x, i)
        assert fi.shape == (3, 5)
        torch.testing.assert_close(fi, f[..., i], rtol=1e-6, atol=1e-6)
    ids = [5, 0, 63]
    torch.testing.assert_close(sae.encode_features(x, ids), f[..., ids], rtol=1e-6, atol=1e-6)
    assert sae.encode_feature(x[0, 0], np.int64(17)).shape == ()
    with pytest.raises(ValueError, match="out of range.*64 features"):
        sae.encode_feature(x, 64)
    with pytest.raises(ValueError, match="feature ids must be in"):
        sae.encode_features(x, [1, 64])


def test_inputs_are_cast_to_the_saes_dtype():
    sae = tiny_sae(16, 32)
    x64 = torch.randn(4, 16, dtype=torch.float64)
    f = sae.encode(x64)
    assert f.dtype == torch.float32
    torch.testing.assert_close(f, sae.encode(x64.float()))
    assert sae.encode(x64.numpy()).dtype == torch.float32  # numpy arrays are accepted too
    half = sae.to(torch.bfloat16)
    assert half.dtype == torch.bfloat16 and half.W_dec.dtype == torch.bfloat16
    assert half.encode(x64).dtype == torch.bfloat16


def test_wrong_input_width_names_widths_and_model():
    sae = tiny_sae(640, 32, model_name="google/gemma-3-270m-pt")
    with pytest.raises(ValueError, match=r"width 640 \(d_in\) but got 1152: this SAE was trained for google/gemma-3-270m-pt"):
        sae.encode(torch.randn(2, 1152))
    with pytest.raises(ValueError, match=r"width 32 \(d_sae\) but got 31"):
        sae.decode(torch.randn(2, 31))
    with pytest.raises(ValueError, match="got a scalar"):
        sae.encode(torch.tensor(1.0))


def test_properties_and_repr():
    sae = tiny_sae(16, 32, site="attn_out", layer=4, name="demo/attn")
    assert (sae.d_in, sae.d_sae, sae.d_out, sae.site, sae.layer) == (16, 32, 16, "attn_out", 4)
    assert sae.hook_point_in == sae.hook_point_out == "model.layers.4.self_attn.o_proj.input"
    assert sae.W_dec is sae.w_dec and sae.W_enc is sae.w_enc and sae.W_dec.shape == (32, 16)
    assert not sae.is_transcoder and sae.name == "demo/attn" and sae.cfg.site == "attn_out"
    assert sae.device == torch.device("cpu") and sae.dtype == torch.float32
    assert [n for n, _ in sae.named_parameters()] == ["w_enc", "b_enc", "w_dec", "b_dec", "threshold"]
    assert not any(p.requires_grad for p in sae.parameters())
    text = repr(sae)
    assert "demo/attn" in text and "16 -> 32" in text and "float32" in text and len(text) < 200


def test_trainable_when_asked():
    sae = SAE.random(16, 32, requires_grad=True)
    loss = (sae(torch.randn(4, 16)) ** 2).sum()
    loss.backward()
    assert sae.w_dec.grad is not None


def test_random_sae_is_sensible_and_deterministic():
    sae = SAE.random(64, 1024, layer=5, seed=3)
    assert sae.w_enc.shape == (64, 1024) and sae.w_dec.shape == (1024, 64)
    torch.testing.assert_close(sae.w_dec.norm(dim=1), torch.ones(1024))
    torch.testing.assert_close(sae.w_enc, sae.w_dec.T)
    assert bool((sae.threshold > 0).all())
    l0 = (sae.encode(torch.randn(256, 64)) > 0).sum(-1).float().mean()
    assert 20 < l0 < 200  # about min(64, d_sae / 8) on unit-variance inputs
    torch.testing.assert_close(SAE.random(64, 1024, layer=5, seed=3).w_dec, sae.w_dec)
    assert not torch.equal(SAE.random(64, 1024, layer=5, seed=4).w_dec, sae.w_dec)
    fixed = SAE.random(16, 32, threshold=0.05, dtype="bfloat16")
    assert fixed.dtype == torch.bfloat16
    torch.testing.assert_close(fixed.threshold.float(), torch.full((32,), 0.05), atol=1e-3, rtol=0)
    tc = SAE.random(16, 32, site="transcoder", d_out=8, affine=True)
    assert tc.affine_skip_connection.shape == (16, 8) and tc(torch.randn(2, 16)).shape == (2, 8)


def test_random_sae_at_real_width_allocates_fast():
    import time

    start = time.perf_counter()
    sae = SAE.random(64, 65536)
    assert time.perf_counter() - start < 5.0  # vectorised: no python loop over features
    assert sae.d_sae == 65536


def test_from_config_validates_params():
    cfg = SAEConfig(8, 16, layer=0)
    good = {k: v.clone() for k, v in tiny_sae(8, 16).state_dict().items()}
    SAE.from_config(cfg, good)
    with pytest.raises(SAELoadError, match="missing tensor.*threshold"):
        SAE.from_config(cfg, {k: v for k, v in good.items() if k != "threshold"})
    with pytest.raises(SAELoadError, match=r"'b_dec' has shape \(9,\)"):
        SAE.from_config(cfg, {**good, "b_dec": torch.zeros(9)})
    with pytest.raises(SAELoadError, match="affine_connection is false"):
        SAE.from_config(cfg, {**good, "affine_skip_connection": torch.zeros(8, 8)})
    with pytest.raises(SAELoadError, match="must be floating point"):
        SAE.from_config(cfg, {**good, "threshold": torch.zeros(16, dtype=torch.int64)})
    empty = SAE(cfg)  # zeros
    assert empty.w_enc.abs().sum() == 0


# ---------------------------------------------------------------------------------------------------
# config


def test_default_hook_points_for_every_site():
    assert default_hook_points("resid_post", 5) == ("model.layers.5.output", "model.layers.5.output")
    assert default_hook_points("attn_out", 5) == ("model.layers.5.self_attn.o_proj.input",) * 2
    assert default_hook_points("mlp_out", 5) == ("model.layers.5.post_feedforward_layernorm.output",) * 2
    assert default_hook_points("transcoder", 5) == (
        "model.layers.5.pre_feedforward_layernorm.output",
        "model.layers.5.post_feedforward_layernorm.output",
    )
    assert default_hook_points("resid_post", 2, prefix="model.language_model.layers")[0] == (
        "model.language_model.layers.2.output"
    )


def test_config_validation_messages():
    with pytest.raises(ValueError, match=r"unknown SAE site 'resid_pre'.*resid_post, attn_out, mlp_out, transcoder"):
        SAEConfig(16, 32, layer=0, site="resid_pre")
    with pytest.raises(ValueError, match=r"unknown SAE site"):
        default_hook_points("embed", 0)
    with pytest.raises(ValueError, match="layer must be an int >= 0"):
        SAEConfig(16, 32, layer=-1)
    with pytest.raises(ValueError, match="layer is required"):
        SAEConfig(16, 32)
    with pytest.raises(ValueError, match="d_sae must be a positive int"):
        SAEConfig(16, 0, layer=0)
    with pytest.raises(ValueError, match="unsupported SAE architecture 'topk'"):
        SAEConfig(16, 32, layer=0, architecture="topk")
    with pytest.raises(ValueError, match="unknown SAE type"):
        SAEConfig(16, 32, layer=0, type="crosscoder")
    with pytest.raises(ValueError, match="does not match site"):
        SAEConfig(16, 32, layer=0, site="resid_post", type="transcoder")
    with pytest.raises(ValueError, match="names layer 5 but layer is 4"):
        SAEConfig(16, 32, layer=4, hook_point_in="model.layers.5.output")
    with pytest.raises(ValueError, match="cannot tell the site"):
        SAEConfig(16, 32, hook_point_in="model.layers.5.mlp.down_proj.input")


def test_config_derives_from_hooks():
    cfg = SAEConfig(16, 32, hook_point_in="model.layers.7.self_attn.o_proj.input")
    assert (cfg.layer, cfg.site, cfg.type, cfg.d_out) == (7, "attn_out", "sae", 16)
    assert cfg.hook_point_out == "model.layers.7.self_attn.o_proj.input"
    assert cfg.name == "attn_out/layer_7_width_32"
    assert SAEConfig(16, 32, layer=1, site="transcoder").type == "transcoder"
    mm = SAEConfig(16, 32, hook_point_in="model.language_model.layers.0.output")
    assert (mm.layer, mm.site) == (0, "resid_post")


GS2_RESID = {
    "hf_hook_point_in": "model.layers.22.output",
    "hf_hook_point_out": "model.layers.22.output",
    "width": 16384,
    "model_name": "google/gemma-3-1b-it",
    "architecture": "jump_relu",
    "l0": 60,
    "affine_connection": False,
    "type": "sae",
}
GS2_TRANSCODER = {
    "hf_hook_point_in": "model.layers.5.pre_feedforward_layernorm.output",
    "hf_hook_point_out": "model.layers.5.post_feedforward_layernorm.output",
    "width": 262144,
    "model_name": "google/gemma-3-270m-pt",
    "architecture": "jump_relu",
    "l0": 20,
    "affine_connection": True,
    "type": "transcoder",
}


def test_from_gemma_scope_2_resid_post():
    cfg = SAEConfig.from_gemma_scope_2(
        GS2_RESID, "resid_post_all/layer_22_width_16k_l0_big", repo_id="google/gemma-scope-2-1b-it"
    )
    assert (cfg.d_in, cfg.d_sae, cfg.d_out, cfg.layer, cfg.site, cfg.type, cfg.l0) == (
        1152, 16384, 1152, 22, "resid_post", "sae", 60
    )
    assert cfg.name == "gemma-scope-2-1b-it/resid_post_all/layer_22_width_16k_l0_big"
    assert cfg.to_gemma_scope_2() == GS2_RESID


def test_from_gemma_scope_2_transcoder_and_extra_keys():
    raw = {**GS2_TRANSCODER, "some_future_key": [1, 2]}
    cfg = SAEConfig.from_gemma_scope_2(raw, "transcoder_all/layer_5_width_262k_l0_small_affine")
    assert (cfg.site, cfg.type, cfg.layer, cfg.d_in, cfg.affine_connection) == ("transcoder", "transcoder", 5, 640, True)
    assert cfg.extra == {"some_future_key": [1, 2]}
    assert cfg.to_gemma_scope_2() == raw


@pytest.mark.parametrize(
    ("folder", "hook", "sae_type", "site"),
    [
        ("attn_out/layer_3_width_16k_l0_small", "model.layers.3.self_attn.o_proj.input", "sae", "attn_out"),
        ("attn_out_all/layer_3_width_16k_l0_small", "model.layers.3.self_attn.o_proj.input", "sae", "attn_out"),
        ("mlp_out_all/layer_3_width_16k_l0_small", "model.layers.3.post_feedforward_layernorm.output", "sae", "mlp_out"),
        ("resid_post/layer_3_width_16k_l0_small", "model.layers.3.output", "sae", "resid_post"),
        (None, "model.layers.3.output", "sae", "resid_post"),  # no folder: from the hook string
        ("somewhere/else", "model.layers.3.self_attn.o_proj.input", "sae", "attn_out"),
        (None, "model.layers.3.post_feedforward_layernorm.output", "sae", "mlp_out"),
        (None, "model.layers.3.post_feedforward_layernorm.output", "transcoder", "transcoder"),
    ],
)
def test_site_from_folder_family_or_hook(folder, hook, sae_type, site):
    raw = {**GS2_RESID, "hf_hook_point_in": hook, "hf_hook_point_out": hook, "type": sae_type}
    cfg = SAEConfig.from_gemma_scope_2(raw, folder, d_in=16)
    assert cfg.site == site and cfg.layer == 3


def test_from_gemma_scope_2_refuses_crosscoders_and_unknown_models():
    with pytest.raises(ValueError, match="crosscoders and CLTs are not supported"):
        SAEConfig.from_gemma_scope_2(GS2_RESID, "crosscoder/layer_7_13_17_22_width_262k_l0_medium")
    with pytest.raises(ValueError, match="pass d_in="):
        SAEConfig.from_gemma_scope_2({**GS2_RESID, "model_name": "someone/llama"}, None)


# ---------------------------------------------------------------------------------------------------
# loaders: local directories


def assert_same_sae(a: SAE, b: SAE) -> None:
    assert a.cfg == b.cfg
    assert a.state_dict().keys() == b.state_dict().keys()
    for key, value in a.state_dict().items():
        assert torch.equal(value, b.state_dict()[key]), key


@pytest.mark.parametrize(
    "sae_args",
    [
        dict(d_in=16, d_sae=32, layer=3),
        dict(d_in=16, d_sae=48, site="transcoder", layer=1, affine=True, d_out=12),
        dict(d_in=16, d_sae=32, site="mlp_out", layer=2, dtype=torch.bfloat16),
    ],
)
def test_save_pretrained_round_trip(tmp_path, sae_args):
    sae = tiny_sae(**sae_args)
    out = sae.save_pretrained(tmp_path / "saved")
    assert sorted(p.name for p in out.iterdir()) == ["config.json", "params.safetensors"]
    if sae.W_enc.dtype in (torch.float16, torch.bfloat16):
        # 16-bit files compute in float32 unless a dtype is asked for (Gemma's activations overflow fp16)
        assert SAE.from_pretrained(tmp_path / "saved").W_enc.dtype == torch.float32
        back = SAE.from_pretrained(tmp_path / "saved", dtype=sae.W_enc.dtype)
    else:
        back = SAE.from_pretrained(tmp_path / "saved")
    assert_same_sae(sae, back)
    assert back.examples_path is None
    x = torch.randn(3, sae.d_in)
    torch.testing.assert_close(back(x), sae(x))
    assert SAE.from_pretrained(tmp_path, "saved").cfg == sae.cfg  # parent dir + folder works too


def test_from_pretrained_dtype_and_device(tmp_path):
    tiny_sae(16, 32).save_pretrained(tmp_path)
    sae = SAE.from_pretrained(str(tmp_path), dtype="bfloat16", device="cpu")
    assert sae.dtype == torch.bfloat16 and sae.device == torch.device("cpu")
    assert SAE.from_pretrained(tmp_path, dtype=torch.float64).dtype == torch.float64


def test_gemma_scope_2_local_folder(tmp_path):
    sae = tiny_sae(16, 32, site="attn_out", layer=3)
    folder = "attn_out_all/layer_3_width_16k_l0_small"
    write_gemma_scope_2(tmp_path / "gemma-scope-2-270m-pt", sae, folder, examples=b"x" * 16)
    loaded = SAE.from_pretrained(tmp_path / "gemma-scope-2-270m-pt", folder)
    assert loaded.site == "attn_out" and loaded.layer == 3 and loaded.cfg.l0 == 8
    assert loaded.name == f"gemma-scope-2-270m-pt/{folder}"
    assert loaded.examples_path == str(tmp_path / "gemma-scope-2-270m-pt" / folder / "examples.safetensors")
    torch.testing.assert_close(loaded.W_dec, sae.W_dec)


def test_gemma_scope_1_local_npz(tmp_path):
    sae = tiny_sae(16, 32, site="resid_post", layer=5, model_name=None)
    root = tmp_path / "gemma-scope-2b-pt-res"
    write_gemma_scope_1(root, sae, "layer_5/width_16k/average_l0_71")
    loaded = SAE.from_pretrained(root, "layer_5/width_16k/average_l0_71")
    assert (loaded.site, loaded.layer, loaded.cfg.l0, loaded.cfg.model_name) == (
        "resid_post", 5, 71, "google/gemma-2-2b"
    )
    assert loaded.hook_point_in == "model.layers.5.output"
    for key in ("w_enc", "w_dec", "b_enc", "b_dec", "threshold"):
        torch.testing.assert_close(getattr(loaded, key), getattr(sae, key))
    assert SAE.list(root) == ["layer_5/width_16k/average_l0_71"]


def test_gemma_scope_1_site_from_repo_suffix_and_override(tmp_path):
    sae = tiny_sae(16, 32, layer=2)
    write_gemma_scope_1(tmp_path / "gemma-scope-9b-it-mlp", sae, "layer_2/width_16k/average_l0_10")
    mlp = SAE.from_pretrained(tmp_path / "gemma-scope-9b-it-mlp", "layer_2/width_16k/average_l0_10")
    assert mlp.site == "mlp_out" and mlp.cfg.model_name == "google/gemma-2-9b-it"
    write_gemma_scope_1(tmp_path / "plain", sae, "layer_2/width_16k/average_l0_10")
    with pytest.warns(UserWarning, match="assuming resid_post"):
        assert SAE.from_pretrained(tmp_path / "plain", "layer_2/width_16k/average_l0_10").site == "resid_post"
    att = SAE.from_pretrained(tmp_path / "plain", "layer_2/width_16k/average_l0_10", site="attn_out")
    assert att.hook_point_in == "model.layers.2.self_attn.o_proj.input"


def test_list_local_sorted_naturally(tmp_path):
    for layer in (10, 2, 1):
        write_gemma_scope_2(tmp_path, tiny_sae(16, 32, layer=layer), f"resid_post/layer_{layer}_width_16k_l0_small")
    write_gemma_scope_2(tmp_path, tiny_sae(16, 32, site="transcoder", layer=0), "transcoder/layer_0_width_16k_l0_small")
    (tmp_path / "resid_post" / "not_an_sae").mkdir()
    assert SAE.list(tmp_path) == [
        "resid_post/layer_1_width_16k_l0_small",
        "resid_post/layer_2_width_16k_l0_small",
        "resid_post/layer_10_width_16k_l0_small",
        "transcoder/layer_0_width_16k_l0_small",
    ]
    tiny_sae(16, 32).save_pretrained(tmp_path / "solo")
    assert SAE.list(tmp_path / "solo") == ["."]


# ---------------------------------------------------------------------------------------------------
# loaders: the hub, through a fake huggingface_hub cache, offline


@pytest.fixture
def offline_hub(tmp_path, monkeypatch):
    """An empty HF cache as the default cache dir, with HF_HUB_OFFLINE=1 in force.

    huggingface_hub reads HF_HUB_OFFLINE and HF_HUB_CACHE into ``huggingface_hub.constants`` at import
    time, so setting the environment variable alone is not enough once it is imported: patch both."""
    import huggingface_hub.constants as constants

    cache = tmp_path / "hf-cache"
    cache.mkdir()
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_CACHE", str(cache))
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(cache))
    return cache


def test_gemma_scope_2_from_fake_hub_cache_offline(offline_hub, tmp_path):
    sae = tiny_sae(16, 32, layer=3)
    snapshot = make_fake_hub_cache(offline_hub, GS2_REPO, gemma_scope_2_files(sae, GS2_FOLDER))
    assert (snapshot / GS2_FOLDER / "params.safetensors").is_symlink()
    loaded = SAE.from_pretrained(GS2_REPO, GS2_FOLDER)  # default cache dir (patched constant)
    assert loaded.name == f"gemma-scope-2-270m-pt/{GS2_FOLDER}"
    assert (loaded.site, loaded.layer, loaded.cfg.model_name) == ("resid_post", 3, "google/gemma-3-270m-pt")
    torch.testing.assert_close(loaded.w_enc, sae.w_enc)
    assert loaded.examples_path is None
    # an explicit cache_dir, and a pinned commit, work too
    other = tmp_path / "other-cache"
    make_fake_hub_cache(other, GS2_REPO, gemma_scope_2_files(sae, GS2_FOLDER, examples=b"ex"))
    pinned = SAE.from_pretrained(GS2_REPO, GS2_FOLDER, cache_dir=other, revision=FAKE_COMMIT)
    assert pinned.examples_path is not None and Path(pinned.examples_path).read_bytes() == b"ex"
    with_examples = SAE.from_pretrained(GS2_REPO, GS2_FOLDER, cache_dir=other, include_examples=True)
    assert Path(with_examples.examples_path).read_bytes() == b"ex"


def test_include_examples_offline_and_not_cached_says_what_to_do(offline_hub):
    make_fake_hub_cache(offline_hub, GS2_REPO, gemma_scope_2_files(tiny_sae(16, 32, layer=3), GS2_FOLDER))
    with pytest.raises(SAELoadError, match=r"examples.safetensors is not in the local Hugging Face cache"):
        SAE.from_pretrained(GS2_REPO, GS2_FOLDER, include_examples=True)


def test_hub_folder_missing_offline_lists_cached_folders(offline_hub):
    make_fake_hub_cache(offline_hub, GS2_REPO, gemma_scope_2_files(tiny_sae(16, 32, layer=3), GS2_FOLDER))
    with pytest.raises(SAELoadError) as info:
        SAE.from_pretrained(GS2_REPO, "resid_post/layer_3_width_16k_l0_big")
    msg = str(info.value)
    for needed in ("not in the local Hugging Face cache", "HF_HUB_OFFLINE=1 is set", "HF_HUB_OFFLINE=0",
                   "hf download", "SAE.list", GS2_FOLDER):
        assert needed in msg, needed


def test_hub_repo_not_cached_offline(offline_hub):
    with pytest.raises(SAELoadError, match=r"google/gemma-scope-2-1b-pt.*not in the local Hugging Face cache.*SAE\.list"):
        SAE.from_pretrained("google/gemma-scope-2-1b-pt", GS2_FOLDER)


def test_gemma_scope_1_from_fake_hub_cache(offline_hub):
    sae = tiny_sae(16, 32, layer=7)
    folder = "layer_7/width_16k/average_l0_20"
    make_fake_hub_cache(offline_hub, "google/gemma-scope-2b-pt-att", gemma_scope_1_files(sae, folder))
    loaded = SAE.from_pretrained("google/gemma-scope-2b-pt-att", folder)
    assert (loaded.site, loaded.layer, loaded.cfg.l0) == ("attn_out", 7, 20)
    assert loaded.name == f"gemma-scope-2b-pt-att/{folder}"
    torch.testing.assert_close(loaded.w_dec, sae.w_dec)


def test_list_hub_via_list_repo_files(monkeypatch):
    import huggingface_hub

    files = [
        ".gitattributes",
        "README.md",
        "resid_post/layer_12_width_16k_l0_small/config.json",
        "resid_post/layer_12_width_16k_l0_small/params.safetensors",
        "resid_post/layer_9_width_16k_l0_small/params.safetensors",
        "resid_post/layer_9_width_16k_l0_small/examples.safetensors",
        "layer_3/width_16k/average_l0_5/params.npz",
        "crosscoder/whatever/README.md",
    ]
    seen = {}

    def fake_list_repo_files(repo_id, revision=None, **kwargs):
        seen.update(repo_id=repo_id, revision=revision)
        return files

    monkeypatch.setattr(huggingface_hub, "list_repo_files", fake_list_repo_files)
    assert SAE.list(GS2_REPO, revision="v1") == [
        "layer_3/width_16k/average_l0_5",
        "resid_post/layer_9_width_16k_l0_small",
        "resid_post/layer_12_width_16k_l0_small",
    ]
    assert seen == {"repo_id": GS2_REPO, "revision": "v1"}


def test_list_hub_offline_falls_back_to_the_cache(offline_hub):
    make_fake_hub_cache(offline_hub, GS2_REPO, gemma_scope_2_files(tiny_sae(16, 32, layer=3), GS2_FOLDER))
    with pytest.warns(UserWarning, match="local cache only"):
        assert SAE.list(GS2_REPO) == [GS2_FOLDER]
    with pytest.raises(SAELoadError, match="HF_HUB_OFFLINE=0"):
        SAE.list("google/gemma-scope-2-27b-it")


def test_hub_missing_folder_online_suggests_close_names(monkeypatch, offline_hub):
    """The hub answers 404 for a mistyped folder: the error lists the close matches."""
    import huggingface_hub
    import huggingface_hub.errors as hf_errors

    from scope_widgets.saes.hub import hub_errors

    def not_found(url: str):  # a 404 of the HTTP library the installed hub uses: requests (0.x) or httpx (1.x)
        if hf_errors.Response.__module__.startswith("requests"):
            response = hf_errors.Response()
            response.status_code, response.url = 404, url
            return response
        http = sys.modules[hf_errors.Response.__module__.split(".")[0]]
        return hf_errors.Response(404, request=http.Request("HEAD", url))

    def fake_download(repo_id, filename, **kwargs):
        response = not_found(f"https://huggingface.co/{repo_id}")
        raise hub_errors().remote("404 Client Error: Entry Not Found", response=response)

    monkeypatch.setattr(huggingface_hub, "hf_hub_download", fake_download)
    monkeypatch.setattr(huggingface_hub, "list_repo_files", lambda repo_id, revision=None: [f"{GS2_FOLDER}/params.safetensors"])
    with pytest.raises(SAELoadError, match=rf"has no file resid_post/layer_3_width_16k_l0_mediun/config.json.*Did you mean: {GS2_FOLDER}"):
        SAE.from_pretrained(GS2_REPO, "resid_post/layer_3_width_16k_l0_mediun")
    with pytest.raises(SAELoadError, match="Pass the SAE's folder"):
        SAE.from_pretrained(GS2_REPO)


@pytest.mark.parametrize("generation", ["0.x", "1.x"])
def test_hub_errors_of_both_huggingface_hub_generations(monkeypatch, offline_hub, generation):
    """hub 0.x: a missing remote file is EntryNotFoundError, and LocalEntryNotFoundError (not cached,
    offline) subclasses it; hub 1.x: RemoteEntryNotFoundError. Both give the clear SAELoadError."""
    from types import SimpleNamespace

    import huggingface_hub

    from scope_widgets.saes import hub

    class RepositoryNotFoundError(Exception): ...
    class GatedRepoError(RepositoryNotFoundError): ...
    class RevisionNotFoundError(Exception): ...
    class HfHubHTTPError(Exception): ...
    class EntryNotFoundError(Exception): ...
    if generation == "0.x":
        class LocalEntryNotFoundError(EntryNotFoundError): ...
        remote = EntryNotFoundError
    else:
        class LocalEntryNotFoundError(Exception): ...
        class RemoteEntryNotFoundError(EntryNotFoundError): ...
        remote = RemoteEntryNotFoundError
    classes = SimpleNamespace(repo=RepositoryNotFoundError, gated=GatedRepoError, revision=RevisionNotFoundError,
                              local=LocalEntryNotFoundError, remote=remote, http=HfHubHTTPError)
    monkeypatch.setattr(hub, "hub_errors", lambda: classes)
    monkeypatch.setattr(huggingface_hub, "list_repo_files", lambda repo_id, revision=None: [f"{GS2_FOLDER}/params.safetensors"])

    def raising(exc):
        def download(repo_id, filename, **kwargs):
            raise exc("boom")
        return download

    monkeypatch.setattr(huggingface_hub, "hf_hub_download", raising(LocalEntryNotFoundError))
    with pytest.raises(SAELoadError, match="not in the local Hugging Face cache"):
        SAE.from_pretrained(GS2_REPO, GS2_FOLDER)
    monkeypatch.setattr(huggingface_hub, "hf_hub_download", raising(remote))
    with pytest.raises(SAELoadError, match="has no file"):
        SAE.from_pretrained(GS2_REPO, "resid_post/nope")
    monkeypatch.setattr(huggingface_hub, "hf_hub_download", raising(GatedRepoError))
    with pytest.raises(SAELoadError, match="is gated"):
        SAE.from_pretrained(GS2_REPO, GS2_FOLDER)


def test_hub_errors_resolve_on_the_installed_version():
    from scope_widgets.saes.hub import hub_errors

    err = hub_errors()
    assert all(isinstance(c, type) and issubclass(c, BaseException) for c in vars(err).values())
    assert err.remote.__name__ in ("RemoteEntryNotFoundError", "EntryNotFoundError")
    assert not issubclass(err.local, err.remote) or err.remote.__name__ == "EntryNotFoundError"


def test_hub_crosscoder_folder_refused(offline_hub):
    with pytest.raises(SAELoadError, match="crosscoders / CLTs, which are not supported"):
        SAE.from_pretrained(GS2_REPO, "crosscoder/layer_7_13_17_22_width_262k_l0_medium")


# ---------------------------------------------------------------------------------------------------
# every bad input: type and message


@pytest.fixture
def saved(tmp_path) -> Path:
    folder = write_gemma_scope_2(tmp_path / "repo", tiny_sae(16, 32, layer=1), "resid_post/layer_1_width_16k_l0_small")
    return folder


def test_missing_local_directory(tmp_path):
    with pytest.raises(SAELoadError, match="no such local directory"):
        SAE.from_pretrained(tmp_path / "nope")
    with pytest.raises(SAELoadError, match="is a file"):
        (tmp_path / "f.txt").write_text("x")
        SAE.from_pretrained(tmp_path / "f.txt")


def test_missing_folder_lists_existing(saved):
    root = saved.parent.parent
    with pytest.raises(SAELoadError, match=r"no such SAE folder.*Did you mean: resid_post/layer_1_width_16k_l0_small"):
        SAE.from_pretrained(root, "resid_post/layer_1_width_16k_l0_smal")
    with pytest.raises(SAELoadError, match=r"holds no SAE.*Available folders \(1\): resid_post/layer_1_width_16k_l0_small"):
        SAE.from_pretrained(root)


@pytest.mark.parametrize("missing", ["config.json", "params.safetensors"])
def test_missing_file(saved, missing):
    (saved / missing).unlink()
    with pytest.raises(SAELoadError, match=rf"{missing} is missing"):
        SAE.from_pretrained(saved)


def test_truncated_safetensors(saved):
    path = saved / "params.safetensors"
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(SAELoadError, match=r"params.safetensors: truncated safetensors file.*download"):
        SAE.from_pretrained(saved)
    path.write_bytes(data[:20])
    with pytest.raises(SAELoadError, match="truncated safetensors file"):
        SAE.from_pretrained(saved)
    path.write_bytes(b"")
    with pytest.raises(SAELoadError, match=r"truncated safetensors file \(0 bytes\)"):
        SAE.from_pretrained(saved)


def test_corrupt_safetensors(saved):
    path = saved / "params.safetensors"
    data = bytearray(path.read_bytes())
    data[:64] = bytes(range(200, 255)) + bytes(9)  # garbage header
    path.write_bytes(bytes(data))
    with pytest.raises(SAELoadError, match="corrupt safetensors file"):
        SAE.from_pretrained(saved)
    path.write_bytes((20).to_bytes(8, "little") + b"{not json at all!!!}" + b"\0" * 64)
    with pytest.raises(SAELoadError, match=r"corrupt safetensors file \(unreadable header"):
        SAE.from_pretrained(saved)


def _rewrite_params(folder: Path, **changes) -> None:
    from safetensors.torch import load_file

    tensors = load_file(str(folder / "params.safetensors"))
    for key, value in changes.items():
        if value is None:
            tensors.pop(key)
        else:
            tensors[key] = value
    save_file(tensors, str(folder / "params.safetensors"))


def test_wrong_shape_names_the_tensor(saved):
    _rewrite_params(saved, w_dec=torch.zeros(32, 17))
    with pytest.raises(SAELoadError, match=r"tensor 'w_dec' has shape \(32, 17\).*\[d_sae, d_out\]"):
        SAE.from_pretrained(saved)  # d_out 17 != affine-less d_in 16: b_dec no longer matches either
    _rewrite_params(saved, w_dec=torch.zeros(32, 16), threshold=torch.zeros(31))
    with pytest.raises(SAELoadError, match=r"'threshold' has shape \(31,\)"):
        SAE.from_pretrained(saved)
    _rewrite_params(saved, w_enc=torch.zeros(16 * 32))
    with pytest.raises(SAELoadError, match="'w_enc' should be a matrix"):
        SAE.from_pretrained(saved)


def test_missing_tensor(saved):
    _rewrite_params(saved, b_enc=None)
    with pytest.raises(SAELoadError, match=r"params.safetensors: missing tensor\(s\) b_enc"):
        SAE.from_pretrained(saved)
    _rewrite_params(saved, w_enc=None)
    with pytest.raises(SAELoadError, match=r"missing tensor 'w_enc'"):
        SAE.from_pretrained(saved)


def test_width_mismatch_between_config_and_params(saved):
    config = json.loads((saved / "config.json").read_text())
    (saved / "config.json").write_text(json.dumps({**config, "width": 64}))
    with pytest.raises(SAELoadError, match="width 64 does not match params.safetensors"):
        SAE.from_pretrained(saved)


def test_nan_in_params(saved):
    bad = torch.zeros(32)
    bad[5] = float("nan")
    bad[6] = float("inf")
    _rewrite_params(saved, b_enc=bad)
    with pytest.raises(SAELoadError, match=r"'b_enc' has 2 NaN/inf value"):
        SAE.from_pretrained(saved)


def test_bad_json(saved):
    (saved / "config.json").write_text('{"width": 32,, }')
    with pytest.raises(SAELoadError, match=r"config.json: invalid JSON in config.json \(line 1"):
        SAE.from_pretrained(saved)
    (saved / "config.json").write_text("[1, 2]")
    with pytest.raises(SAELoadError, match="should hold a JSON object"):
        SAE.from_pretrained(saved)


def test_bad_config_values(saved):
    config = json.loads((saved / "config.json").read_text())
    (saved / "config.json").write_text(json.dumps({**config, "type": "crosscoder"}))
    with pytest.raises(SAELoadError, match=r"config.json: unknown SAE type 'crosscoder'"):
        SAE.from_pretrained(saved)
    (saved / "config.json").write_text(json.dumps({**config, "site": "resid_mid"}))
    with pytest.raises(SAELoadError, match=r"unknown SAE site 'resid_mid'.*resid_post, attn_out"):
        SAE.from_pretrained(saved)
    with pytest.raises(ValueError, match="unknown SAE site 'bogus'"):
        SAE.from_pretrained(saved, site="bogus")


def test_affine_tensor_without_affine_config_is_accepted_with_a_warning(saved):
    _rewrite_params(saved, affine_skip_connection=torch.zeros(16, 16))
    with pytest.warns(UserWarning, match="treating the SAE as affine"):
        assert SAE.from_pretrained(saved).is_affine


def test_affine_config_without_tensor(saved):
    config = json.loads((saved / "config.json").read_text())
    (saved / "config.json").write_text(json.dumps({**config, "affine_connection": True}))
    with pytest.raises(SAELoadError, match=r"missing tensor\(s\) affine_skip_connection"):
        SAE.from_pretrained(saved)


def test_pickled_npz_is_refused(tmp_path):
    folder = tmp_path / "gemma-scope-2b-pt-res" / "layer_0" / "width_16k" / "average_l0_5"
    folder.mkdir(parents=True)
    obj = np.empty(2, dtype=object)
    obj[0], obj[1] = np.zeros((16, 32)), "payload"
    np.savez(folder / "params.npz", W_enc=obj, W_dec=np.zeros((32, 16)), b_enc=np.zeros(32), b_dec=np.zeros(16),
             threshold=np.zeros(32))
    with pytest.raises(SAELoadError, match=r"refusing to unpickle.*'W_enc'.*re-save it with numpy.savez"):
        SAE.from_pretrained(folder)
    np.save(folder / "params.npz", obj, allow_pickle=True)  # a pickled .npy under the npz name
    with pytest.raises(SAELoadError, match=r"refusing to unpickle.*numpy.savez"):
        SAE.from_pretrained(folder)


def test_corrupt_and_incomplete_npz(tmp_path):
    root = tmp_path / "gemma-scope-2b-pt-res"
    folder = write_gemma_scope_1(root, tiny_sae(16, 32), "layer_0/width_16k/average_l0_5")
    data = (folder / "params.npz").read_bytes()
    (folder / "params.npz").write_bytes(data[: len(data) // 2])
    with pytest.raises(SAELoadError, match="truncated or corrupt .npz"):
        SAE.from_pretrained(folder)
    np.savez(folder / "params.npz", W_enc=np.zeros((16, 32)), W_dec=np.zeros((32, 16)))
    with pytest.raises(SAELoadError, match=r"params.npz: missing tensor\(s\) b_enc, b_dec, threshold"):
        SAE.from_pretrained(folder)
    np.savez(folder / "params.npz", W_enc=np.array(["a", "b"]))
    with pytest.raises(SAELoadError, match="'W_enc' has dtype <U1"):
        SAE.from_pretrained(folder)
    np.savez(folder / "params.npz", W_enc=np.full((16, 32), np.nan), W_dec=np.zeros((32, 16)), b_enc=np.zeros(32),
             b_dec=np.zeros(16), threshold=np.zeros(32))
    with pytest.raises(SAELoadError, match="'w_enc' has 512 NaN/inf"):
        SAE.from_pretrained(folder)


def test_sae_load_error_is_a_value_error():
    assert issubclass(SAELoadError, ValueError)


# ---------------------------------------------------------------------------------------------------
# SAELens conversion and the package surface


def test_from_saelens_duck_typed():
    ref = tiny_sae(16, 32, layer=6, dtype=torch.float64)
    fake = types.SimpleNamespace(
        W_enc=ref.w_enc.detach().clone(),
        W_dec=ref.w_dec.detach().clone(),
        b_enc=ref.b_enc.detach().clone(),
        b_dec=ref.b_dec.detach().clone(),
        threshold=ref.threshold.detach().clone(),
        cfg=types.SimpleNamespace(
            metadata=types.SimpleNamespace(hook_name="blocks.6.hook_resid_post", model_name="gemma-2-2b"),
            apply_b_dec_to_input=True,
        ),
    )
    sae = SAE.from_saelens(fake)
    assert (sae.site, sae.layer, sae.cfg.model_name) == ("resid_post", 6, "gemma-2-2b")
    x = sample(ref)
    expected = torch.relu((x - ref.b_dec) @ ref.w_enc + ref.b_enc)  # SAELens subtracts b_dec: folded into b_enc
    expected = expected * ((x - ref.b_dec) @ ref.w_enc + ref.b_enc > ref.threshold)
    torch.testing.assert_close(sae.encode(x), expected)
    fake.cfg.metadata.hook_name = "model.layers.6.self_attn.o_proj.input"
    assert SAE.from_saelens(fake).site == "attn_out"
    fake.cfg.metadata.hook_name = "blocks.6.hook_resid_pre"
    with pytest.raises(ValueError, match="unsupported SAELens hook"):
        SAE.from_saelens(fake)


def test_public_names():
    import scope_widgets as sw

    assert sw.SAE is SAE and sw.SAELoadError is SAELoadError
    saes = importlib.import_module("scope_widgets.saes")
    assert {"SAE", "SAEConfig", "SAELoadError", "default_hook_points"} <= set(saes.__all__)


@pytest.mark.cuda
def test_cuda_random_load_and_encode(tmp_path):
    sae = SAE.random(64, 16384, device="cuda", dtype=torch.bfloat16)
    assert sae.device.type == "cuda" and sae.threshold.device.type == "cuda"
    f = sae.encode(torch.randn(4, 64))  # CPU float32 inputs are moved and cast
    assert f.device.type == "cuda" and f.dtype == torch.bfloat16
    tiny_sae(16, 32).save_pretrained(tmp_path)
    loaded = SAE.from_pretrained(tmp_path, device="cuda")
    assert loaded.device.type == "cuda"
    torch.testing.assert_close(loaded.to("cpu").w_enc, tiny_sae(16, 32).w_enc)


def test_a_local_cross_layer_transcoder_folder_is_named_as_unsupported(tmp_path):
    """A CLT folder (config.json + params_layer_N.safetensors) must not say 'params.safetensors is missing'."""
    import json as _json

    from safetensors.torch import save_file

    folder = tmp_path / "clt" / "width_16k_l0_medium"
    folder.mkdir(parents=True)
    (folder / "config.json").write_text(_json.dumps({"type": "clt", "width": 16}))
    for layer in range(3):
        save_file({"w_enc": torch.zeros(4, 16)}, str(folder / f"params_layer_{layer}.safetensors"))
    with pytest.raises(SAELoadError, match="cross-layer transcoder or crosscoder.*not support"):
        SAE.from_pretrained(tmp_path, "clt/width_16k_l0_medium")
    assert "clt/width_16k_l0_medium" not in SAE.list(tmp_path)  # never listed, so never a folder that then fails


def test_the_270m_config_name_maps_to_its_hub_id():
    from scope_widgets.saes.config import SAEConfig, hub_model_id

    assert hub_model_id("google/gemma-3-270m-pt") == "google/gemma-3-270m"
    assert hub_model_id("google/gemma-3-1b-pt") == "google/gemma-3-1b-pt"
    cfg = SAEConfig.from_gemma_scope_2({"hf_hook_point_in": "model.layers.5.output", "hf_hook_point_out": "model.layers.5.output",
                                        "width": 16, "model_name": "google/gemma-3-270m-pt", "architecture": "jump_relu",
                                        "type": "sae"}, folder="resid_post/layer_5_width_16k_l0_small")
    assert cfg.d_in == 640 and cfg.hub_model_id == "google/gemma-3-270m"


def test_gemma_scope_1_embedding_folders_are_not_listed_and_say_why(tmp_path):
    folder = tmp_path / "embedding" / "width_4k" / "average_l0_6"
    folder.mkdir(parents=True)
    np.savez(folder / "params.npz", W_enc=np.zeros((4, 8), np.float32), W_dec=np.zeros((8, 4), np.float32),
             b_enc=np.zeros(8, np.float32), b_dec=np.zeros(4, np.float32), threshold=np.zeros(8, np.float32))
    assert SAE.list(tmp_path) == []
    with pytest.raises(SAELoadError, match="embedding SAEs read the token embeddings"):
        SAE.from_pretrained(tmp_path, "embedding/width_4k/average_l0_6")
