"""The whole recipe, end to end and resumable: corpus -> windows -> activations -> BatchTopK -> KL -> file.

With a work folder (``work_dir``) every stage leaves its result there (activation shards, statistics, the
BatchTopK checkpoint, the trained state, the KL-tuned state), so a run that is stopped picks up where it
was. Without one (the lesson's tiny run) everything stays in memory.
"""
from __future__ import annotations

import dataclasses
import time
from pathlib import Path
from typing import Sequence

import torch

from .activations import ActivationStore, collect_activations, make_windows
from .batchtopk import train_batchtopk
from .config import TrainConfig
from .evaluate import evaluate, meets_targets
from .fold import SAVE_DTYPES, fold_standardisation, save_sae
from .kl import finetune_kl

__all__ = ["train", "corpus_texts"]

_MODEL_DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16}


def corpus_texts(cfg: TrainConfig):
    """``(corpus, train texts, held-out texts)``; model-written train documents repeated ``generated_repeat`` times."""
    from ..corpus import build_corpus

    corpus = build_corpus(sources=cfg.corpus_sources, budget_scale=cfg.corpus_scale)
    train = []
    for d in corpus.train:
        train.extend([d.text] * (cfg.generated_repeat if d.source == "model_generated" else 1))
    return corpus, train, [d.text for d in corpus.heldout]


def train(
    cfg: TrainConfig,
    out_dir: str | Path | None = None,
    model=None,
    tokenizer=None,
    train_texts: Sequence[str] | None = None,
    heldout_texts: Sequence[str] | None = None,
    work_dir: str | Path | None = None,
    progress: bool = True,
) -> dict:
    """Run the recipe; returns the metrics (and writes the SAE folder when ``out_dir``)."""
    t0 = time.time()
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    torch.manual_seed(cfg.seed)
    if model is None:
        from ..engine.models import load_default_model

        model, tokenizer = load_default_model(device=cfg.device, dtype=torch.float32)
    model.eval()
    corpus_info = {}
    if train_texts is None:
        corpus, train_texts, heldout_texts = corpus_texts(cfg)
        corpus_info = {"fingerprint": corpus.fingerprint(), "train_docs": len(corpus.train), "heldout_docs": len(corpus.heldout),
                       "sources": corpus.stats()}
    pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
    g = torch.Generator().manual_seed(cfg.seed)

    def windows(texts, n_tokens):
        # shuffle documents, tokenise only as many as the budget needs (plus margin), shuffle windows
        texts = [texts[i] for i in torch.randperm(len(texts), generator=g).tolist()]
        w = make_windows(tokenizer, texts, cfg.ctx_len, cfg.max_windows_per_doc, max_tokens=int(n_tokens * 1.1) + 1000)
        return [w[i] for i in torch.randperm(len(w), generator=g).tolist()]

    train_w = windows(list(train_texts), cfg.train_tokens + cfg.kl_steps * cfg.kl_batch * cfg.kl_ctx)
    held_w = windows(list(heldout_texts), max(cfg.eval_tokens, cfg.eval_ce_windows * cfg.ctx_len))
    work = Path(work_dir) if work_dir else None
    collect_model = model
    if _MODEL_DTYPES[cfg.collect_dtype] != next(model.parameters()).dtype:
        import copy

        collect_model = copy.deepcopy(model).to(_MODEL_DTYPES[cfg.collect_dtype])

    if work is not None:
        store = ActivationStore(work / "train").collect(collect_model, train_w, cfg.hook_point, cfg.train_tokens,
                                                        cfg.shard_tokens, cfg.collect_batch, pad_id, progress, "activations (train)")
        held = ActivationStore(work / "heldout").collect(collect_model, held_w, cfg.hook_point, cfg.eval_tokens,
                                                         cfg.shard_tokens, cfg.collect_batch, pad_id, progress, "activations (held out)")
        held_acts = held.head(cfg.eval_tokens)
        source = store
        stats_path = work / "stats.pt"
        if stats_path.exists():
            mean, std = torch.load(stats_path, weights_only=True)
        else:
            mean, std = store.stats()
            torch.save((mean, std), stats_path)
    else:
        source = collect_activations(collect_model, train_w, cfg.hook_point, cfg.train_tokens, cfg.collect_batch, pad_id, progress, "activations (train)")
        held_acts = collect_activations(collect_model, held_w, cfg.hook_point, cfg.eval_tokens, cfg.collect_batch, pad_id, progress, "activations (held out)")
        mean, std = source.stats()
    t_collect = time.time() - t0
    if not cfg.standardise:  # one global scale instead: the plain (centred) MSE, at a sane lr
        std = torch.full_like(std, float(std.pow(2).mean().sqrt()))
    sae, info = train_batchtopk(source, mean, std, cfg, progress=progress, checkpoint=work / "batchtopk.ckpt" if work else None)
    del source
    params = fold_standardisation(sae, mean, std)
    metrics: dict = {}
    ft: dict = {}
    if cfg.kl_steps > 0:
        pre_ft = evaluate(model, params, held_acts, held_w, cfg.hook_point, mean, std, cfg, pad_id, progress)
        metrics["before_kl_finetune"] = pre_ft
        if out_dir is not None and meets_targets(pre_ft):  # something good on disk before the slow part
            save_sae(out_dir, params, cfg, pre_ft["l0"], {**pre_ft, "stage": "batchtopk (KL fine-tune still running)"})
        kl_path = work / "kl_tuned.pt" if work else None
        if kl_path is not None and kl_path.exists():
            saved = torch.load(kl_path, weights_only=False)
            sae.load_state_dict(saved["sae"])
            ft = saved["info"]
        else:
            ft = finetune_kl(collect_model, sae, train_w[::-1], mean, std, cfg, pad_id, progress)
            if kl_path is not None:
                torch.save({"sae": sae.state_dict(), "info": ft}, kl_path)
        params = fold_standardisation(sae, mean, std)
    params = {k: v.to(SAVE_DTYPES[cfg.save_dtype]).float() for k, v in params.items()}  # measure what ships
    final = evaluate(model, params, held_acts, held_w, cfg.hook_point, mean, std, cfg, pad_id, progress)
    metrics.update(final)
    metrics["stage"] = "batchtopk + KL fine-tune" if cfg.kl_steps > 0 else "batchtopk"
    metrics.update(
        hook_point=cfg.hook_point, width=cfg.width, train_tokens=cfg.train_tokens, train_steps=info["steps"],
        kl_steps_run=ft.get("steps_run", 0), theta_standardised=info["theta"], collect_seconds=round(t_collect, 1),
        total_seconds=round(time.time() - t0, 1), corpus=corpus_info, config=dataclasses.asdict(cfg),
    )
    if out_dir is not None:
        save_sae(out_dir, params, cfg, metrics["l0"], metrics)
    metrics["_params"] = params  # for callers; not written to metrics.json
    metrics["_train_log"] = info["log"]
    metrics["_kl_log"] = ft.get("log", [])
    return metrics
