"""The trainer on a tiny random Gemma 3: seconds, no downloads, and the folding is exact."""
from __future__ import annotations

import json

import pytest
import torch

import scope_widgets.training as T
from scope_widgets.training.fold import jumprelu_encode


class CharTokenizer:
    """A byte-level stand-in for the Gemma tokenizer (ids 0..2 reserved: pad, eos, bos)."""

    bos_token_id = 2
    pad_token_id = 0

    def __call__(self, text, add_special_tokens=True):
        ids = [3 + b for b in text.encode("utf-8")]
        return {"input_ids": ([self.bos_token_id] if add_special_tokens else []) + ids}


def tiny_gemma(seed: int = 0, layers: int = 3, d: int = 32):
    from transformers import Gemma3ForCausalLM, Gemma3TextConfig

    torch.manual_seed(seed)
    cfg = Gemma3TextConfig(
        vocab_size=300, hidden_size=d, intermediate_size=64, num_hidden_layers=layers,
        num_attention_heads=2, num_key_value_heads=1, head_dim=16, max_position_embeddings=256,
        sliding_window=16, layer_types=["sliding_attention"] * (layers - 1) + ["full_attention"],
    )
    return Gemma3ForCausalLM(cfg).eval()


TEXTS = [f"Document {i}: " + " ".join(f"word{(i * 7 + j) % 23} value {j * i % 17}" for j in range(30)) for i in range(60)]


def tiny_cfg(**kw):
    base = dict(layer=1, width=64, k=4, train_tokens=3000, epochs=2.0, ctx_len=32, batch_tokens=256,
                warmup_steps=5, dead_tokens=1000, aux_k=16, eval_tokens=600, eval_ce_windows=4,
                eval_ce_positions=40, collect_batch=8, kl_steps=0, model_name="tiny-random-gemma3")
    base.update(kw)
    return T.TrainConfig(**base)


def test_tiny_config_trains_and_writes_a_loadable_folder(tmp_path):
    model, tok = tiny_gemma(), CharTokenizer()
    cfg = tiny_cfg(kl_steps=3, kl_batch=2, kl_ctx=16, kl_positions=4)
    m = T.train(cfg, out_dir=tmp_path / "sae", model=model, tokenizer=tok,
                train_texts=TEXTS[:50], heldout_texts=TEXTS[50:], progress=False)
    for key in ("loss_recovered", "l0", "dead_frac", "fve_raw", "fve_std"):
        assert key in m and m[key] == m[key]  # present and not NaN
    assert 0 < m["l0"] < 64
    assert m["fve_std"] > 0.2
    out = tmp_path / "sae"
    config = json.loads((out / "config.json").read_text())
    # the Gemma Scope 2 keys (saes.loaders.save, the one writer of the layout, adds site/layer/name)
    assert {k: config[k] for k in config if k not in ("site", "layer", "name")} == {
        "hf_hook_point_in": "model.layers.1.output", "hf_hook_point_out": "model.layers.1.output",
        "width": 64, "model_name": "tiny-random-gemma3", "architecture": "jump_relu",
        "l0": round(m["l0"]), "affine_connection": False, "type": "sae",
    }
    from safetensors.torch import load_file

    params = load_file(out / "params.safetensors")
    assert {k: tuple(v.shape) for k, v in params.items()} == {
        "w_enc": (32, 64), "b_enc": (64,), "w_dec": (64, 32), "b_dec": (32,), "threshold": (64,)}
    assert torch.allclose(params["w_dec"].norm(dim=1), torch.ones(64), atol=1e-4)
    saes = pytest.importorskip("scope_widgets.saes")
    if hasattr(saes, "SAE"):
        sae = saes.SAE.from_pretrained(str(out))
        x = torch.randn(5, 32)
        assert torch.allclose(sae(x), T.jumprelu_forward(params, x), atol=1e-4)


def test_standardisation_folding_is_exact():
    g = torch.Generator().manual_seed(0)
    d, width = 16, 48
    sae = T.BatchTopKSAE(d, width, 4, g)
    with torch.no_grad():
        sae.b_enc.normal_(generator=g)
        sae.b_dec.normal_(generator=g)
        sae.threshold.uniform_(0.0, 0.5, generator=g)
    mean = torch.randn(d, generator=g) * 5
    std = torch.rand(d, generator=g) * 10 + 0.1
    std[3] = 300.0  # one dominant dimension, as in Gemma's residual stream
    x = mean + torch.randn(200, d, generator=g) * std
    z = (x - mean) / std
    f_std = sae.encode_jumprelu(z)
    expected = sae.decode(f_std) * std + mean
    for unit in (False, True):
        params = T.fold_standardisation(sae, mean, std, unit_decoder=unit)
        got = T.jumprelu_forward(params, x)
        assert torch.allclose(got, expected, rtol=1e-4, atol=1e-3 * float(std.max()) * 1e-2)
        f_raw = jumprelu_encode(params, x)
        assert torch.equal(f_raw > 0, f_std > 0)  # the same features fire
    assert torch.allclose(params["w_dec"].norm(dim=1), torch.ones(width), atol=1e-5)


def test_windows_start_with_bos_and_collection_drops_bos():
    tok = CharTokenizer()
    wins = T.make_windows(tok, ["abcdefghij" * 5], ctx_len=16, max_windows_per_doc=10, min_tokens=1)
    assert all(w[0] == tok.bos_token_id and len(w) <= 16 for w in wins)
    assert sum(len(w) - 1 for w in wins) == 50
    model = tiny_gemma()
    acts = T.collect_activations(model, wins, "model.layers.0.output", max_tokens=10_000, batch=2, progress=False)
    assert acts.x.shape == (50, 32)
    # the same rows through the on-disk store, in shards, and its statistics match the in-memory ones
    import tempfile
    with tempfile.TemporaryDirectory() as d:
        store = T.ActivationStore(d).collect(model, wins, "model.layers.0.output", 10_000, shard_tokens=16, batch=2, progress=False)
        assert len(store) > 1 and store.n_rows() == 50
        disk = torch.cat([store.load(i).float() for i in range(len(store))])
        assert torch.allclose(disk, acts.x, rtol=1e-2, atol=1e-2)  # bfloat16 on disk
        mean, std = store.stats()
        assert torch.allclose(mean, acts.stats()[0], atol=5e-2)


def test_cli_parses_presets():
    assert T.PRESETS["tiny"]["train_tokens"] < T.PRESETS["default"]["train_tokens"]
    cfg = T.TrainConfig(**T.PRESETS["tiny"])
    assert cfg.hook_point == "model.layers.6.output"
    assert T.TrainConfig(**T.PRESETS["default"]).width == 16384


def test_a_run_with_a_work_folder_resumes_to_the_same_sae(tmp_path):
    """Stop a run in the middle of BatchTopK training; the rerun picks up the checkpoint and ends identical."""
    import scope_widgets.training.batchtopk as B

    model, tok = tiny_gemma(), CharTokenizer()
    cfg = tiny_cfg(checkpoint_every=3, shard_tokens=500, train_dtype="bfloat16")
    kw = dict(model=model, tokenizer=tok, train_texts=TEXTS[:50], heldout_texts=TEXTS[50:], progress=False)
    full = T.train(cfg, work_dir=tmp_path / "a", **kw)

    original = B.batch_stream
    def interrupted(source, c, steps, start=0):
        for i, b in enumerate(original(source, c, steps, start)):
            if start + i >= 7:
                raise KeyboardInterrupt
            yield b
    B.batch_stream = interrupted
    try:
        with pytest.raises(KeyboardInterrupt):
            T.train(cfg, work_dir=tmp_path / "b", **kw)
    finally:
        B.batch_stream = original
    assert (tmp_path / "b" / "batchtopk.ckpt").exists() and list((tmp_path / "b" / "train").glob("shard_*.pt"))
    resumed = T.train(cfg, work_dir=tmp_path / "b", **kw)
    for name in full["_params"]:
        assert torch.allclose(full["_params"][name], resumed["_params"][name], atol=1e-5), name
    assert resumed["loss_recovered"] == pytest.approx(full["loss_recovered"], abs=1e-6)


def test_sparse_encoder_gradient_matches_the_dense_one():
    g = torch.Generator().manual_seed(1)
    sae = T.BatchTopKSAE(12, 40, 3, g)
    x = torch.randn(16, 12, generator=g)
    rows, cols, vals, pre, _ = sae.encode_topk(x)
    vals.pow(2).sum().backward()
    sparse_w, sparse_b = sae.w_enc.grad.clone(), sae.b_enc.grad.clone()
    sae.zero_grad()
    dense = torch.relu(x @ sae.w_enc + sae.b_enc)[rows, cols]
    dense.pow(2).sum().backward()
    assert torch.allclose(sparse_w, sae.w_enc.grad, atol=1e-5) and torch.allclose(sparse_b, sae.b_enc.grad, atol=1e-5)


def _hierarchical(n: int, d: int = 24, parents: int = 6, children: int = 4, seed: int = 0) -> torch.Tensor:
    """Tokens that each hold one parent concept plus one of its children (a child never comes alone)."""
    g = torch.Generator().manual_seed(1234)  # the same concepts for every seed (and not the SAE's init)
    parent = torch.nn.functional.normalize(torch.randn(parents, d, generator=g), dim=1)
    child = torch.nn.functional.normalize(torch.randn(parents, children, d, generator=g), dim=2)
    g = torch.Generator().manual_seed(seed)
    p = torch.randint(parents, (n,), generator=g)
    c = torch.randint(children, (n,), generator=g)
    scale = 1 + torch.rand(n, 1, generator=g)
    return scale * (2 * parent[p] + child[p, c])


def test_matryoshka_prefixes_learn_the_general_concepts():
    """With a Matryoshka prefix of 6 features, those 6 alone reconstruct the data much better than the
    first 6 of a plain BatchTopK SAE (whose general directions are spread over all features)."""
    x = _hierarchical(6000)
    acts = T.Activations(x=x, n_windows=1)
    mean, std = acts.stats()
    held = (_hierarchical(1000, seed=1) - mean) / std

    def prefix_fvu(prefixes):
        cfg = tiny_cfg(width=48, k=2, epochs=6.0, batch_tokens=256, dead_tokens=3000, lr=3e-3, matryoshka=prefixes)
        sae, _ = T.train_batchtopk(acts, mean, std, cfg, progress=False)
        with torch.no_grad():
            f = sae.encode_jumprelu(held)
            f[:, 6:] = 0
            err = held - sae.decode(f)
        return float(err.pow(2).sum(1).mean() / (held - held.mean(0)).pow(2).sum(1).mean())

    plain, nested = prefix_fvu(()), prefix_fvu((6,))
    assert nested < 0.75 * plain, (nested, plain)


def test_matryoshka_sizes_are_checked():
    acts = T.Activations(x=torch.randn(512, 8), n_windows=1)
    mean, std = acts.stats()
    for bad in ((64,), (8, 4), (0, 8)):
        with pytest.raises(ValueError, match="matryoshka"):
            T.train_batchtopk(acts, mean, std, tiny_cfg(width=64, matryoshka=bad), progress=False)
