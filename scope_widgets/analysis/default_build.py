"""The shipped data of the default SAE: its dashboards over the offline corpus, and the command line.

    python -m scope_widgets.analysis --default          # recompute the shipped dashboards and labels
    python -m scope_widgets.analysis --rates            # only recount the features' rates on everyday text
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Sequence
from pathlib import Path

import torch

from ..engine.models import DEFAULT_SAE_DIR, load_default_model
from ..runtime import cache_dir
from ..saes import SAE
from .activation_cache import precompute_activations
from .corpus_pass import compute_dashboards
from .dashboards_file import Dashboards
from .sources import DEFAULT_DASHBOARDS_DIR, write_everyday_rates
from .stats import sae_fingerprint

__all__ = ["default_corpus_texts", "build_default", "main"]

#: About how many corpus tokens the default dashboards read (882,089 in 3,395 pieces since 2026-12-03).
DEFAULT_TOKENS = 1_000_000


def default_corpus_texts(target_tokens: int = DEFAULT_TOKENS, chars_per_token: float = 3.6, piece_chars: int = 1600) -> tuple[list[str], str]:
    """Texts for the default SAE's dashboards: the corpus's held-out split first, then training
    documents in a fixed hash order until about ``target_tokens`` tokens; documents are cut into
    pieces of about ``piece_chars`` characters at line breaks. Returns (texts, description)."""
    from ..corpus import build_corpus, text_hash

    corpus = build_corpus()
    budget = int(target_tokens * chars_per_token)
    docs = list(corpus.heldout)
    n_held = len(docs)
    docs += sorted(corpus.train, key=lambda d: text_hash(d.text))
    texts, used, n_docs = [], 0, 0
    for d in docs:
        if used >= budget:
            break
        n_docs += 1
        for piece in _pieces(d.text, piece_chars):
            texts.append(piece)
            used += len(piece)
    held = min(n_docs, n_held)
    desc = (f"scope_widgets.corpus: {held} held-out documents + {n_docs - held} training documents "
            f"(fingerprint {corpus.fingerprint()[:12]}), cut into {len(texts)} pieces")
    return texts, desc


def _pieces(text: str, size: int) -> list[str]:
    out, start = [], 0
    while start < len(text):
        end = min(len(text), start + size)
        if end < len(text):
            cut = text.rfind("\n", start + size // 2, end)
            if cut > start:
                end = cut
        piece = text[start:end].strip()
        if len(piece) >= 40:
            out.append(piece)
        start = end
    return out


def _default_cache_root() -> Path:
    return cache_dir() / "dashboards"


def build_default(out: str | os.PathLike = DEFAULT_DASHBOARDS_DIR, target_tokens: int = DEFAULT_TOKENS, n_examples: int = 20,
                  context: int = 12, batch_size: int = 8, checkpoint: str | os.PathLike | None = None,
                  progress: bool = True, activation_cache: bool = True) -> Dashboards:
    """Compute and save the dashboards of the bundled default SAE (``--default`` on the command line).

    The model's activations over the corpus are cached in ``<cache_dir>/dashboards/activations`` so that
    regenerating after retraining the SAE (same layer) only re-encodes them."""
    model, tokenizer = load_default_model()
    sae = SAE.from_pretrained(str(DEFAULT_SAE_DIR), dtype=torch.float32, device=next(model.parameters()).device)
    texts, desc = default_corpus_texts(target_tokens)
    root = _default_cache_root()
    ckpt = checkpoint or (root / f"default-{sae_fingerprint(sae)}.ckpt.safetensors")
    dash = compute_dashboards(model, tokenizer, sae, texts, n_examples=n_examples, context=context, batch_size=batch_size,
                              checkpoint=ckpt, progress=progress, source=desc,
                              activation_cache=root / "activations" if activation_cache else None)
    dash.save(out)
    write_everyday_rates(model, tokenizer, sae, out)
    return dash


def main(argv: Sequence[str] | None = None) -> None:
    import argparse
    import sys

    ap = argparse.ArgumentParser(prog="python -m scope_widgets.analysis",
                                 description="Compute feature dashboards (the shipped ones of the default SAE with --default).")
    ap.add_argument("--default", action="store_true", help="compute the default SAE's dashboards and write them into the package")
    ap.add_argument("--relabel", action="store_true", help="only remake the automatic labels of the dashboards in --out")
    ap.add_argument("--rates", action="store_true", help="only recount the default SAE's rates on everyday text into --out")
    ap.add_argument("--activations-only", action="store_true",
                    help="only cache the model's activations over the default corpus at --hook (no SAE needed)")
    ap.add_argument("--hook", default=None, help="hook point for --activations-only (default: the bundled SAE's)")
    ap.add_argument("--out", default=str(DEFAULT_DASHBOARDS_DIR), help="output directory")
    ap.add_argument("--tokens", type=int, default=DEFAULT_TOKENS, help="about how many corpus tokens to read")
    ap.add_argument("--examples", type=int, default=20, help="top examples kept per feature")
    ap.add_argument("--context", type=int, default=12, help="tokens shown either side of the max token")
    ap.add_argument("--batch-size", type=int, default=8)
    ap.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: torch's default)")
    ap.add_argument("--checkpoint", default=None, help="checkpoint file (resumes when it exists)")
    ap.add_argument("--no-activation-cache", action="store_true", help="do not cache the model's activations on disk")
    args = ap.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    t0 = time.perf_counter()
    if args.activations_only:
        hook = args.hook
        if hook is None:
            config = json.loads((DEFAULT_SAE_DIR / "config.json").read_text()) if (DEFAULT_SAE_DIR / "config.json").is_file() else {}
            hook = config.get("hf_hook_point_in") or "model.layers.9.output"
        model, tok = load_default_model()
        texts, _ = default_corpus_texts(args.tokens)
        where = precompute_activations(model, tok, texts, hook, _default_cache_root() / "activations",
                                       batch_size=args.batch_size, max_tokens=512)
        print(f"activations at {hook} cached in {where} in {time.perf_counter() - t0:.0f} s", file=sys.stderr)
        return
    if args.relabel:
        from ..engine.models import default_model_dir
        from transformers import AutoTokenizer

        dash = Dashboards.load(args.out, AutoTokenizer.from_pretrained(str(default_model_dir())))
        dash.compute_auto_labels()
        dash.save_labels(args.out)
        print(f"relabelled {sum(1 for x in dash.auto_labels if x)} features in {time.perf_counter() - t0:.0f} s", file=sys.stderr)
        return
    if args.rates:
        model, tok = load_default_model()
        sae = SAE.from_pretrained(str(DEFAULT_SAE_DIR), dtype=torch.float32, device=next(model.parameters()).device)
        path = write_everyday_rates(model, tok, sae, args.out)
        print(f"rates on everyday text written to {path} in {time.perf_counter() - t0:.0f} s", file=sys.stderr)
        return
    if not args.default:
        ap.error("pass --default (or --activations-only); call compute_dashboards() from Python for other SAEs")
    dash = build_default(args.out, args.tokens, args.examples, args.context, args.batch_size, args.checkpoint,
                         activation_cache=not args.no_activation_cache)
    size = sum(p.stat().st_size for p in Path(args.out).iterdir() if p.is_file())
    print(f"{dash!r}\nwritten to {args.out} ({size / 1e6:.2f} MB) in {time.perf_counter() - t0:.0f} s", file=sys.stderr)
