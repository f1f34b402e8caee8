"""Benchmark 7: scale, on a GPU.

Randomly initialised Gemma 3 1B and 4B built from their configs (real shapes, random weights: no
download), bf16 on CUDA, random SAEs (``SAE.random``) of width 16k and 262k at a middle layer:
  - figure 1 (``scope.features`` vs the floor and the full forward, texts of 32..2048 tokens),
  - figure 2 (steered generation tokens/s vs plain ``model.generate``, greedy, 64 new tokens),
  - peak GPU memory of ``scope.features`` on 2,048 tokens vs the model's own forward on them
    (``torch.cuda.max_memory_allocated`` above what the weights already hold).

Without CUDA it reports "skipped" and exits 0. ``--tiny --device cpu`` runs the whole script on a tiny
config in seconds (the smoke test does), with peak memory reported as n/a off CUDA.

    python -m benchmarks.gpu                       # needs CUDA
    python -m benchmarks.gpu --models 1b --widths 16384
    python -m benchmarks.gpu --tiny --device cpu   # the smoke path

The configs are written out by hand from google/gemma_pytorch ``gemma/config.py`` (get_config_for_1b,
get_config_for_4b) and the Hugging Face ``config.json`` of google/gemma-3-{1b,4b}-pt (the 4B text model
carries 262,208 embeddings and linear RoPE scaling x8 on its global layers).
The 4B is built text-only (``Gemma3ForCausalLM``): the same decoder stack as the multimodal checkpoint,
without the vision tower, which ``features`` and ``generate`` on text never run.
"""

from __future__ import annotations

import argparse
import gc
import json
import sys

import torch

from benchmarks import features as bench_features
from benchmarks import generation as bench_generation
from benchmarks.common import (
    STATUS_MISSED,
    STATUS_OK,
    STATUS_SKIPPED,
    Result,
    char_tokenizer,
    log,
    text_with_tokens,
)

_ROPE_1B = {
    "sliding_attention": {"rope_type": "default", "rope_theta": 10_000.0},
    "full_attention": {"rope_type": "default", "rope_theta": 1_000_000.0},
}
_ROPE_4B = {
    "sliding_attention": {"rope_type": "default", "rope_theta": 10_000.0},
    "full_attention": {"rope_type": "linear", "factor": 8.0, "rope_theta": 1_000_000.0},
}


def _layer_types(n: int) -> list[str]:
    """Five sliding-window layers, then one global, repeated (Gemma 3)."""
    return ["full_attention" if (i + 1) % 6 == 0 else "sliding_attention" for i in range(n)]


MODELS: dict[str, dict] = {
    "1b": dict(
        vocab_size=262_144, hidden_size=1152, intermediate_size=6912, num_hidden_layers=26,
        num_attention_heads=4, num_key_value_heads=1, head_dim=256, sliding_window=512,
        max_position_embeddings=32_768, query_pre_attn_scalar=256, rms_norm_eps=1e-6,
        hidden_activation="gelu_pytorch_tanh", rope_parameters=_ROPE_1B, layer_types=_layer_types(26),
        pad_token_id=0, eos_token_id=1, bos_token_id=2, tie_word_embeddings=True,
    ),
    "4b": dict(
        vocab_size=262_208, hidden_size=2560, intermediate_size=10_240, num_hidden_layers=34,
        num_attention_heads=8, num_key_value_heads=4, head_dim=256, sliding_window=1024,
        max_position_embeddings=131_072, query_pre_attn_scalar=256, rms_norm_eps=1e-6,
        hidden_activation="gelu_pytorch_tanh", rope_parameters=_ROPE_4B, layer_types=_layer_types(34),
        pad_token_id=0, eos_token_id=1, bos_token_id=2, tie_word_embeddings=True,
    ),
}
TINY_MODEL = dict(
    hidden_size=64, intermediate_size=128, num_hidden_layers=4, num_attention_heads=2, num_key_value_heads=1,
    head_dim=16, sliding_window=32, max_position_embeddings=4096, query_pre_attn_scalar=16,
    rope_parameters=_ROPE_1B, layer_types=_layer_types(4), pad_token_id=0, eos_token_id=1, bos_token_id=2,
)
WIDTHS = (16_384, 262_144)
TINY_WIDTHS = (128, 512)
LENGTHS = (32, 128, 512, 2048)
TINY_LENGTHS = (32, 64)
MEMORY_TOKENS = 2048


def build_model(name: str, device: torch.device, dtype: torch.dtype, tokenizer=None):
    """A random Gemma3ForCausalLM of the named config, built directly on ``device`` in ``dtype``."""
    from transformers import Gemma3ForCausalLM, Gemma3TextConfig

    if name == "tiny":
        tokenizer = tokenizer or char_tokenizer()
        cfg = dict(TINY_MODEL, vocab_size=len(tokenizer))
    else:
        cfg = dict(MODELS[name])
    config = Gemma3TextConfig(**cfg)
    config._attn_implementation = "sdpa"
    torch.manual_seed(0)
    previous = torch.get_default_dtype()
    torch.set_default_dtype(dtype)
    try:
        with torch.device(device):
            model = Gemma3ForCausalLM(config)
    finally:
        torch.set_default_dtype(previous)
    model = model.to(device=device, dtype=dtype).eval()
    model.generation_config.pad_token_id = 0
    model.generation_config.eos_token_id = 1
    return model


def load_tokenizer(path: str | None, vocab_size: int):
    """The Gemma 3 tokenizer when one is at hand (``--tokenizer`` or the embedded model's cache), else a
    character tokenizer padded to the model's vocabulary (same per-token compute: only ids matter)."""
    from transformers import AutoTokenizer

    if path:
        return AutoTokenizer.from_pretrained(path), f"tokenizer from {path}"
    try:
        from scope_widgets.engine.models import cached_default_dir

        folder = cached_default_dir()
        if folder is not None and (folder / "tokenizer.json").exists():
            return AutoTokenizer.from_pretrained(str(folder)), "Gemma 3 tokenizer (embedded model's cache)"
    except Exception:  # noqa: BLE001 - fall back below
        pass
    return char_tokenizer(vocab_size), "character tokenizer padded to the model's vocabulary (no Gemma tokenizer here)"


def peak_memory(scope, n_tokens: int) -> dict:
    """Peak CUDA memory above the resident weights: ``scope.features`` vs the model's own forward."""
    device = scope.device
    if device.type != "cuda":
        return {"tokens": n_tokens, "features_mb": None, "forward_mb": None, "ratio": None}
    text = text_with_tokens(scope.tokenizer, n_tokens)
    ids = torch.tensor([scope.tokenizer(text)["input_ids"]], device=device)
    out = {"tokens": ids.shape[1]}
    for name, fn in (("features", lambda: scope.features(text)),
                     ("forward", lambda: scope.model(input_ids=ids, use_cache=False))):
        gc.collect()
        torch.cuda.synchronize(device)
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats(device)
        base = torch.cuda.memory_allocated(device)
        with torch.no_grad():
            result = fn()
        torch.cuda.synchronize(device)
        out[f"{name}_mb"] = (torch.cuda.max_memory_allocated(device) - base) / 2**20
        del result
    out["ratio"] = out["features_mb"] / out["forward_mb"] if out["forward_mb"] else None
    return out


def run_all(*, models=("1b", "4b"), widths=WIDTHS, lengths=LENGTHS, new_tokens: int = 64, device="cuda",
            dtype=torch.bfloat16, tokenizer_path: str | None = None, budget_s: float = 10.0, tiny: bool = False) -> dict:
    import scope_widgets as sw

    device = torch.device(device)
    out = {"device": torch.cuda.get_device_name(device) if device.type == "cuda" else str(device),
           "dtype": str(dtype).removeprefix("torch."), "figure1": [], "figure2": [], "memory": [], "models": {}}
    for name in models:
        vocab = len(char_tokenizer()) if name == "tiny" else MODELS[name]["vocab_size"]
        tokenizer, tok_note = (char_tokenizer(), "character tokenizer") if name == "tiny" else load_tokenizer(tokenizer_path, vocab)
        model = build_model(name, device, dtype, tokenizer)
        n_layers = model.config.num_hidden_layers
        layer = n_layers // 2
        params = sum(p.numel() for p in model.parameters())
        out["models"][name] = {"layers": n_layers, "hidden": model.config.hidden_size, "params": params,
                               "sae_layer": layer, "tokenizer": tok_note}
        log(f"  [7] {name}: {params / 1e9:.2f}B parameters, {n_layers} layers, SAE at layer {layer}, {tok_note}")
        for width in widths:
            sae = sw.SAE.random(model.config.hidden_size, width, layer=layer, dtype=dtype, device=device)
            scope = sw.Scope(model, tokenizer, sae)
            label = f"{name} / {width // 1024}k" if width >= 1024 else f"{name} / {width}"
            out["figure1"] += bench_features.measure(scope, lengths, budget_s=budget_s, max_repeats=9,
                                                     min_repeats=2 if tiny else 3, device=device, label=label,
                                                     full_rounds_from=512 if device.type == "cpu" else 10**9)
            out["figure2"].append(bench_generation.measure(scope, new_tokens=new_tokens, budget_s=budget_s * 2,
                                                           max_repeats=7, min_repeats=2 if tiny else 3,
                                                           device=device, label=label))
            mem = peak_memory(scope, MEMORY_TOKENS if not tiny else max(lengths))
            mem["config"] = label
            out["memory"].append(mem)
            if mem["features_mb"] is not None:
                log(f"  [7 {label}] peak memory on {mem['tokens']} tokens: features {mem['features_mb']:.0f} MB, "
                    f"forward {mem['forward_mb']:.0f} MB (x{mem['ratio']:.3f})")
            del scope, sae
            gc.collect()
            if device.type == "cuda":
                torch.cuda.empty_cache()
        del model
        gc.collect()
        if device.type == "cuda":
            torch.cuda.empty_cache()
    return out


def result_of(out: dict) -> Result:
    status1, head1 = bench_features.verdict(out["figure1"])
    status2, head2 = bench_generation.verdict(out["figure2"])
    _, rows1 = bench_features.table(out["figure1"])
    rows = [{"figure": "1", **r} for r in rows1]
    for res in out["figure2"]:
        rows += [{"figure": "2", **r} for r in bench_generation.rows_of(res)]
    mem_ok = True
    for m in out["memory"]:
        if m["features_mb"] is None:
            rows.append({"figure": "memory", "config": m["config"], "tokens": m["tokens"],
                         "features": "n/a (CUDA only)", "full forward": "n/a"})
            continue
        mem_ok &= m["features_mb"] < m["forward_mb"]
        rows.append({"figure": "memory", "config": m["config"], "tokens": m["tokens"],
                     "features": f"{m['features_mb']:.0f} MB peak", "full forward": f"{m['forward_mb']:.0f} MB peak",
                     "features / full": f"{m['ratio']:.3f}x"})
    columns = []
    for r in rows:
        for key in r:
            if key not in columns:
                columns.append(key)
    status = STATUS_OK if (status1 == STATUS_OK and status2 == STATUS_OK and mem_ok) else STATUS_MISSED
    mems = [m for m in out["memory"] if m["features_mb"] is not None]
    head3 = ("peak memory features / forward " + ", ".join(f"{m['config']} {m['ratio']:.2f}x" for m in mems)) if mems \
        else "peak memory n/a off CUDA"
    return Result(
        id="7", title=f"Scale ({out['device']}, {out['dtype']})",
        target="figures 1 and 2 as above at 1B/4B with 16k/262k SAEs; features' peak memory below the forward's",
        status=status, headline=f"fig. 1: {head1}. fig. 2: {head2}. {head3}",
        columns=columns, rows=rows,
        notes=[f"models: {json.dumps(out['models'])}",
               "random weights from the real configs (google/gemma_pytorch gemma/config.py); SAE.random at the middle layer."],
        config={"raw": out},
    )


def skipped(reason: str) -> Result:
    return Result(id="7", title="Scale (GPU)", target="figures 1 and 2 at 1B/4B, 16k/262k; peak memory",
                  status=STATUS_SKIPPED, headline=f"skipped: {reason}",
                  notes=["run `python -m benchmarks.gpu` on a CUDA machine; `--tiny --device cpu` checks the script."])


def run(subject=None, *, quick: bool = False, tiny: bool = False, device: str | None = None, **kwargs) -> Result:
    tiny = tiny or bool(subject is not None and getattr(subject, "tiny", False))
    if tiny:
        out = run_all(models=("tiny",), widths=TINY_WIDTHS, lengths=TINY_LENGTHS, new_tokens=4,
                      device=device or "cpu", dtype=torch.float32 if (device or "cpu") == "cpu" else torch.bfloat16,
                      budget_s=0.2, tiny=True)
        return result_of(out)
    if device is None:
        if not torch.cuda.is_available():
            return skipped("no CUDA device on this machine")
        device = "cuda"
    if torch.device(device).type == "cuda" and not torch.cuda.is_available():
        return skipped("no CUDA device on this machine")
    if quick:
        kwargs.setdefault("lengths", (128, 2048))
        kwargs.setdefault("new_tokens", 32)
    return result_of(run_all(device=device, **kwargs))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tiny", action="store_true", help="a tiny random config (seconds; any device)")
    parser.add_argument("--device", default=None, help="cuda (default when present) or cpu (only sensible with --tiny)")
    parser.add_argument("--models", default="1b,4b", help="comma-separated: 1b, 4b")
    parser.add_argument("--widths", default=",".join(map(str, WIDTHS)), help="SAE widths, e.g. 16384,262144")
    parser.add_argument("--lengths", default=",".join(map(str, LENGTHS)))
    parser.add_argument("--new-tokens", type=int, default=64)
    parser.add_argument("--tokenizer", default=None, help="a folder with the Gemma 3 tokenizer (optional)")
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--json", default=None, help="write the result as JSON here ('-' for stdout)")
    args = parser.parse_args(argv)
    if args.tiny:
        result = run(tiny=True, device=args.device or "cpu")
    else:
        result = run(device=args.device, quick=args.quick, models=tuple(args.models.split(",")),
                     widths=tuple(int(w) for w in args.widths.split(",")),
                     lengths=tuple(int(n) for n in args.lengths.split(",")),
                     new_tokens=args.new_tokens, tokenizer_path=args.tokenizer)
    log(f"  [7] {result.status}: {result.headline}")
    if args.json == "-":
        print(json.dumps(result.to_dict()))
    elif args.json:
        with open(args.json, "w") as f:
            json.dump(result.to_dict(), f, indent=2)
    else:
        from benchmarks.report import result_markdown

        print(result_markdown(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
