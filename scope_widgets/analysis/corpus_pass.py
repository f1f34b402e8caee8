"""The corpus pass: every feature's dashboard statistics from one batched, streaming, resumable pass.

For every feature of an SAE: the **top examples** (one per text: the text's maximum, with the feature's
activation on ``context`` tokens either side), an **activation histogram** (fixed log-spaced bins), its
**density** and max / mean activation, its **token profile** (the tokens it usually fires on,
``token_profile``); and from the weights its **logit effects**. A checkpoint file
makes long runs resumable.

    dash = compute_dashboards(model, tokenizer, sae, texts)      # -> Dashboards
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch

from ..engine.unembed import logit_effects, unembedding
from ..runtime import progress_bar
from .activation_cache import ActivationCache, context_length, corpus_batches, texts_hash
from .dashboards_file import Dashboards
from .stats import ENCODE_ELEMENTS, RunningStats, sae_fingerprint
from .token_profile import PROFILE_SIZE

__all__ = ["compute_dashboards"]


def compute_dashboards(
    model,
    tokenizer,
    sae,
    texts: Sequence[str],
    *,
    n_examples: int = 20,
    context: int = 12,
    batch_size: int = 8,
    max_tokens: int = 512,
    checkpoint: str | os.PathLike | None = None,
    checkpoint_every: int = 25,
    progress: bool = True,
    logits: bool = True,
    source: str | None = None,
    activation_cache: str | os.PathLike | None = None,
) -> "Dashboards":
    """Dashboards of every feature of ``sae`` over ``texts``, read through ``model`` and ``tokenizer``.

    One batched forward pass per ``batch_size`` texts, stopped at the SAE's layer, on the model's
    device (a GPU when the scope is on one). Each text is cut to ``max_tokens`` tokens (BOS included).
    BOS and padding never count. ``n_examples`` texts are kept per feature, each with ``context``
    tokens either side of its max token. With ``checkpoint`` (a file path), the state is saved every
    ``checkpoint_every`` batches and a later call with the same arguments resumes where it stopped,
    skipping the texts already processed; the file is removed when the pass completes. With
    ``activation_cache`` (a folder), the model's activations at the SAE's hook point are kept on disk
    (:class:`ActivationCache`), so dashboards of another SAE at the same hook point skip the model.
    ``progress``: a progress bar once the pass has lasted 2 s (never from a worker thread); False: none.
    """
    if isinstance(n_examples, bool) or not isinstance(n_examples, int) or not 1 <= n_examples <= 255:
        raise ValueError(f"n_examples must be an integer from 1 to 255, got {n_examples!r}")
    if isinstance(context, bool) or not isinstance(context, int) or not 0 <= context <= 127:
        raise ValueError(f"context must be an integer from 0 to 127, got {context!r}")
    texts = [t for t in texts if isinstance(t, str) and t.strip()]
    if not texts:
        raise ValueError("compute_dashboards needs at least one non-empty text")
    batch_size = max(1, int(batch_size))
    bos = getattr(tokenizer, "bos_token_id", None)
    max_tokens = min(int(max_tokens), context_length(model))
    run = RunningStats(sae.d_sae, n_examples, context, sae.device)
    fingerprint = sae_fingerprint(sae)
    doc_tokens: list[np.ndarray] = []
    done = 0
    hasher = hashlib.sha256()
    config = {"fingerprint": fingerprint, "n_examples": n_examples, "context": context, "profile": PROFILE_SIZE,
              "batch_size": batch_size, "max_tokens": max_tokens, "n_texts": len(texts)}
    ckpt = Path(checkpoint) if checkpoint is not None else None
    if ckpt is not None and ckpt.exists():
        done, doc_tokens, hasher = _load_checkpoint(ckpt, run, config, texts)

    cache = ActivationCache(activation_cache, model, sae.hook_point_in, max_tokens) if activation_cache else None
    started = time.perf_counter()
    shown = None if progress else False  # the runtime rule: after 2 s, in the main thread only
    with torch.no_grad(), progress_bar(len(texts), f"dashboards {sae.name}", show=shown, initial=done) as bar:
        for b, (encoded, input_ids, valid, x) in enumerate(corpus_batches(model, tokenizer, texts, done, batch_size, max_tokens, sae.hook_point_in, cache)):
            valid = valid.to(sae.device)
            width = valid.shape[1]
            run.n_tokens += int(valid.sum())
            docs = torch.arange(done, done + len(encoded), device=sae.device)
            token_ids = input_ids.to(sae.device)
            step = max(1, ENCODE_ELEMENTS // (width * sae.d_sae))
            for r0 in range(0, len(encoded), step):
                xs = x[r0 : r0 + step].to(device=sae.device)
                f = sae.encode(xs).float() * valid[r0 : r0 + step, :, None]  # [rows, seq, d_sae]
                run.update(f, docs[r0 : r0 + step], token_ids[r0 : r0 + step])
                del f
            doc_tokens.extend(np.asarray(ids, dtype=np.int64) for ids in encoded)
            texts_hash(texts[done : done + len(encoded)], hasher)
            done += len(encoded)
            bar.update(len(encoded))
            if ckpt is not None and ((b + 1) % max(1, checkpoint_every) == 0) and done < len(texts):
                _save_checkpoint(ckpt, run, config, done, doc_tokens, hasher)
    elapsed = time.perf_counter() - started

    effects = logit_effects(model, sae, progress=progress) if logits else None
    lengths = np.array([len(t) for t in doc_tokens], dtype=np.int64)
    offsets = np.concatenate([[0], np.cumsum(lengths)])
    tokens = np.concatenate(doc_tokens) if doc_tokens else np.zeros(0, dtype=np.int64)
    dash = Dashboards.from_running(
        run, tokens=tokens, doc_offsets=offsets, bos_id=bos, effects=effects,
        meta={
            "sae_name": sae.name, "sae_fingerprint": fingerprint, "d_sae": sae.d_sae,
            "model_name": _model_name(model),
            "hook_point": sae.hook_point_in, "n_texts": len(texts), "max_tokens": max_tokens,
            "vocab_size": int(unembedding(model).shape[0]),
            "source": source or f"{len(texts)} texts", "seconds": round(elapsed, 1),
            "texts_sha256": hasher.hexdigest(),
        },
    )
    dash.tokenizer = tokenizer
    # from the arrays as saved: a float16 logit effect can tip a borderline "→ next" part of a label, and the
    # labels must be the ones that loading the saved dashboards and relabelling gives
    dash.auto_labels = dash.stored().compute_auto_labels()
    if ckpt is not None and ckpt.exists():
        ckpt.unlink()
    return dash


def _model_name(model) -> str:
    """The model's hub id, or the name of its local folder (never a full local path)."""
    name = str(getattr(getattr(model, "config", None), "_name_or_path", "") or "")
    return Path(name).name if name and Path(name).is_dir() else name


def _save_checkpoint(path: Path, run: RunningStats, config: dict, done: int, doc_tokens, hasher) -> None:
    from safetensors.torch import save_file

    tensors = {k: v.detach().contiguous().cpu() for k, v in run.state().items()}
    lengths = np.array([len(t) for t in doc_tokens], dtype=np.int64)
    tensors["doc_lengths"] = torch.from_numpy(lengths)
    tensors["doc_tokens"] = torch.from_numpy(np.concatenate(doc_tokens) if doc_tokens else np.zeros(0, dtype=np.int64))
    meta = {"config": json.dumps(config, sort_keys=True), "done": str(done), "n_tokens": str(run.n_tokens),
            "texts_sha256": texts_hash([]).hexdigest() if done == 0 else hasher.copy().hexdigest()}
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    save_file(tensors, str(tmp), metadata=meta)
    os.replace(tmp, path)


def _load_checkpoint(path: Path, run: RunningStats, config: dict, texts: Sequence[str]):
    from safetensors import safe_open

    with safe_open(str(path), framework="pt") as fh:
        meta = fh.metadata() or {}
        tensors = {k: fh.get_tensor(k) for k in fh.keys()}
    saved = json.loads(meta.get("config", "{}"))
    if saved != config:
        diff = {k: (saved.get(k), v) for k, v in config.items() if saved.get(k) != v}
        raise ValueError(
            f"the checkpoint {path} was made with other settings or another SAE ({diff}); "
            "delete it or pass another checkpoint path"
        )
    done = int(meta["done"])
    hasher = texts_hash(texts[:done])
    if hasher.hexdigest() != meta.get("texts_sha256"):
        raise ValueError(f"the checkpoint {path} was made for other texts: delete it or pass the same texts")
    lengths = tensors.pop("doc_lengths").numpy()
    flat = tensors.pop("doc_tokens").numpy()
    doc_tokens = list(np.split(flat, np.cumsum(lengths)[:-1])) if len(lengths) else []
    run.load_state(tensors)
    run.n_tokens = int(meta["n_tokens"])
    return done, doc_tokens, hasher
