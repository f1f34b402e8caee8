"""``python -m scope_widgets.training``: train a JumpReLU SAE (BatchTopK-trained) on Gemma 3 270M.

    python -m scope_widgets.training --preset tiny --out my_sae            # minutes on a laptop CPU
    python -m scope_widgets.training --preset default --work-dir ~/sae_work --out scope_widgets/data/default_sae
"""
from __future__ import annotations

import argparse
import dataclasses
import sys
from typing import Sequence

from .config import PRESETS, TrainConfig
from .recipe import train

_KEYS = ["loss_recovered", "l0", "dead_frac", "fve_raw", "fve_std", "ce_clean", "ce_spliced", "ce_mean_ablated", "kl_spliced"]


def format_metrics(metrics: dict) -> str:
    rows = []
    if "before_kl_finetune" in metrics:
        rows.append("before KL fine-tune: " + ", ".join(f"{k}={metrics['before_kl_finetune'][k]:.4f}" for k in _KEYS))
    rows.append("final: " + ", ".join(f"{k}={metrics[k]:.4f}" for k in _KEYS))
    return "\n".join(rows)


def main(argv: Sequence[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(prog="python -m scope_widgets.training", description=__doc__.splitlines()[0])
    ap.add_argument("--preset", choices=sorted(PRESETS), default="tiny")
    ap.add_argument("--out", default=None, help="folder for config.json + params.safetensors + metrics.json")
    ap.add_argument("--work-dir", default=None, help="keep activations and checkpoints here; a rerun resumes")
    ap.add_argument("--quiet", action="store_true")
    for f in dataclasses.fields(TrainConfig):
        if f.name == "corpus_sources":
            ap.add_argument("--corpus-sources", default=None, help="comma-separated source names")
            continue
        if f.name == "matryoshka":
            ap.add_argument("--matryoshka", default=None, help="comma-separated prefix sizes, e.g. 256,1024,4096")
            continue
        typ = {"int": int, "float": float, "str": str, "bool": lambda s: s.lower() in ("1", "true", "yes")}.get(
            f.type.split(" ")[0] if isinstance(f.type, str) else f.type.__name__, str)
        ap.add_argument("--" + f.name.replace("_", "-"), type=typ, default=None)
    args = ap.parse_args(argv)
    values = dict(PRESETS[args.preset])
    for f in dataclasses.fields(TrainConfig):
        v = getattr(args, f.name, None)
        if f.name == "corpus_sources":
            v = tuple(args.corpus_sources.split(",")) if args.corpus_sources else None
        if f.name == "matryoshka" and v is not None:
            try:
                v = tuple(int(x) for x in v.split(",") if x.strip())
            except ValueError:
                ap.error(f"--matryoshka takes comma-separated integers, got {v!r}")
        if v is not None:
            values[f.name] = v
    cfg = TrainConfig(**values)
    metrics = train(cfg, out_dir=args.out, work_dir=args.work_dir, progress=not args.quiet)
    print(format_metrics(metrics))
    if args.out:
        print(f"wrote {args.out}")
    return metrics


if __name__ == "__main__":
    main(sys.argv[1:])
