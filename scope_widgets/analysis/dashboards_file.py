"""Dashboards: the result of a corpus pass, compact on disk.

``dashboards.safetensors`` holds token ids (not strings), per-feature top examples with quantised
context, sparse histograms and logit effects; ``meta.json`` what they were made from; ``labels.json``
the automatic labels.

    dash.save("my_dashboards"); dash = Dashboards.load("my_dashboards")
    dash.feature(123)                                # -> FeatureDashboardData
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import torch

from ..engine.tokens import token_strings
from ..runtime import atomic_write, atomic_write_json, check_feature
from .auto_labels import TokenStrings, auto_label, show_token, strong_logits, top_place, usual_label
from .lexicon import lexicon
from .records import FeatureDashboardData
from .stats import HIST_EDGES
from .token_profile import profile_rows, text_counts, top_tokens

__all__ = ["Dashboards", "FORMAT_VERSION", "ARRAYS_FILE", "META_FILE", "LABELS_FILE", "RATES_FILE", "histogram_dict"]

FORMAT_VERSION = 1
ARRAYS_FILE = "dashboards.safetensors"
META_FILE = "meta.json"
LABELS_FILE = "labels.json"
RATES_FILE = "background_rates.json"  # features' rates on everyday text, for "what stands out" (sources.everyday_rates)


class Dashboards:
    """The dashboards of every feature of one SAE over one corpus.

    Arrays (numpy, CPU): ``max_activation``, ``mean_activation``, ``density``, ``active_count``
    (``[d_sae]``), per-feature top examples, a histogram per feature and the logit effects.
    ``feature(i)`` builds one :class:`FeatureDashboardData`; ``save(dir)`` / ``Dashboards.load(dir)``
    round-trip through a safetensors file and a small JSON.
    """

    def __init__(self, arrays: dict[str, np.ndarray], meta: dict, auto_labels: list | None = None, tokenizer=None) -> None:
        self.arrays = arrays
        self.meta = meta
        self.auto_labels = auto_labels
        self.tokenizer = tokenizer

    # ------------------------------------------------------------------ construction
    @classmethod
    def from_running(cls, run, *, tokens, doc_offsets, bos_id, effects, meta) -> "Dashboards":
        d, n, c = run.d_sae, run.n, run.context
        value = run.ex_value.T.contiguous().cpu()  # [d, n]
        order = value.argsort(dim=1, descending=True, stable=True)  # topk already sorts; keep it certain
        value = value.gather(1, order)
        doc = run.ex_doc.T.cpu().gather(1, order)
        pos = run.ex_pos.T.cpu().gather(1, order)
        ctx = run.ex_ctx.permute(1, 0, 2).cpu().gather(1, order[..., None].expand(-1, -1, 2 * c + 1))  # [d, n, W]
        empty = value <= 0
        offsets_t = torch.as_tensor(doc_offsets, dtype=torch.int64)
        gidx = torch.where(empty, torch.full_like(doc, -1), offsets_t[doc.clamp(min=0)] + pos)
        feat, slot, off = ctx.nonzero(as_tuple=True)
        indptr = torch.zeros(d + 1, dtype=torch.int64)
        indptr[1:] = torch.bincount(feat, minlength=d).cumsum(0)
        count = run.count.cpu().numpy()
        hist = run.hist.view(d, -1).cpu().numpy()
        arrays = {
            "tokens": np.asarray(tokens, dtype=np.int64),
            "doc_offsets": np.asarray(doc_offsets, dtype=np.int64),
            "ex_gidx": gidx.numpy(),
            "ex_value": value.numpy().astype(np.float32),
            "ctx_indptr": indptr.numpy(),
            "ctx_slot": slot.numpy().astype(np.uint8),
            "ctx_offset": (off - c).numpy().astype(np.int8),
            "ctx_value": ctx[feat, slot, off].numpy().astype(np.float32),
            "active_count": count.astype(np.int64),
            "sum_activation": run.total.cpu().numpy(),
            "max_activation": run.max.cpu().numpy().astype(np.float32),
        }
        arrays.update(_sparse_hist(hist))
        totals = text_counts(arrays["tokens"], arrays["doc_offsets"], bos_id)
        arrays["profile_ids"], arrays["profile_counts"] = top_tokens(run.profile, totals, d)
        if effects is not None:
            arrays.update({
                "logit_top_ids": effects["top_ids"].numpy().astype(np.int32),
                "logit_top_values": effects["top_values"].numpy().astype(np.float32),
                "logit_bottom_ids": effects["bottom_ids"].numpy().astype(np.int32),
                "logit_bottom_values": effects["bottom_values"].numpy().astype(np.float32),
                "logit_mean": effects["mean"].numpy().astype(np.float32),
                "logit_std": effects["std"].numpy().astype(np.float32),
            })
        meta = dict(meta, version=FORMAT_VERSION, n_examples=n, context=c, n_tokens=run.n_tokens,
                    bos_id=bos_id, hist_edges="logspace(-3, 4, 141)")
        return cls(arrays, meta)

    # ------------------------------------------------------------------ properties
    @property
    def d_sae(self) -> int:
        return int(self.meta["d_sae"])

    @property
    def n_tokens(self) -> int:
        return int(self.meta["n_tokens"])

    @property
    def sae_name(self) -> str:
        return str(self.meta.get("sae_name", ""))

    @property
    def max_activation(self) -> np.ndarray:
        return self.arrays["max_activation"].astype(np.float32)

    @property
    def active_count(self) -> np.ndarray:
        return self.arrays["active_count"]

    @property
    def density(self) -> np.ndarray:
        return self.arrays["active_count"] / max(1, self.n_tokens)

    @property
    def mean_activation(self) -> np.ndarray:
        count = self.arrays["active_count"]
        return np.where(count > 0, self.arrays["sum_activation"] / np.maximum(count, 1), 0.0).astype(np.float32)

    def histogram_counts(self, i: int) -> np.ndarray:
        """The full fixed-bin histogram of feature ``i`` (``len(HIST_EDGES) - 1`` counts)."""
        out = np.zeros(len(HIST_EDGES) - 1, dtype=np.int64)
        a, b = self.arrays["hist_indptr"][i], self.arrays["hist_indptr"][i + 1]
        lo = int(self.arrays["hist_lo"][i])
        out[lo : lo + (b - a)] = self.arrays["hist_counts"][a:b]
        return out

    def top_examples(self, i: int) -> list[dict]:
        """``[{"token_ids", "values", "max_pos", "value", "doc", "position"}]`` of feature ``i``, strongest first."""
        i = self._check(i)
        a = self.arrays
        c = int(self.meta["context"])
        offsets = a["doc_offsets"]
        p0, p1 = int(a["ctx_indptr"][i]), int(a["ctx_indptr"][i + 1])
        slots, offs, vals = a["ctx_slot"][p0:p1], a["ctx_offset"][p0:p1], a["ctx_value"][p0:p1]
        bos = self.meta.get("bos_id")
        out = []
        for s, g in enumerate(a["ex_gidx"][i]):
            g = int(g)
            if g < 0 or a["ex_value"][i, s] <= 0:
                continue
            doc = int(np.searchsorted(offsets, g, side="right") - 1)
            start, end = int(offsets[doc]), int(offsets[doc + 1])
            if bos is not None and end > start and int(a["tokens"][start]) == bos:
                start += 1  # BOS is never shown
            lo, hi = max(start, g - c), min(end, g + c + 1)
            window = np.zeros(2 * c + 1, dtype=np.float32)
            sel = slots == s
            window[offs[sel].astype(np.int64) + c] = vals[sel]
            out.append({
                "token_ids": a["tokens"][lo:hi].tolist(),
                "values": window[lo - g + c : hi - g + c].astype(float).tolist(),
                "max_pos": g - lo,
                "value": float(a["ex_value"][i, s]),
                "doc": doc,
                "position": g - int(offsets[doc]),
            })
        return out

    def _check(self, i) -> int:
        return check_feature(i, self.d_sae)

    def text_counts(self) -> np.ndarray:
        """In how many corpus texts each token id occurs (BOS excluded), cached."""
        if getattr(self, "_text_counts", None) is None:
            self._text_counts = text_counts(self.arrays["tokens"], self.arrays["doc_offsets"], self.meta.get("bos_id"))
        return self._text_counts

    def frequent_tokens(self, i: int, tokenizer=None) -> list[tuple[str, int, float]]:
        """The tokens feature ``i`` usually fires on (its token profile, see ``token_profile``):
        ``[(token, texts where it fired on it, P(fires | token) over texts)]``, highest ``n x P`` first;
        [] for dashboards made before profiles existed."""
        i = self._check(i)
        if "profile_ids" not in self.arrays:
            return []
        strings = tokenizer if isinstance(tokenizer, TokenStrings) else TokenStrings(tokenizer or self.tokenizer)
        return profile_rows(self.arrays["profile_ids"][i], self.arrays["profile_counts"][i], self.text_counts(), strings)

    def feature(self, i: int, tokenizer=None) -> FeatureDashboardData:
        """The dashboard of feature ``i`` (its automatic label, when there is one)."""
        i = self._check(i)
        tok = tokenizer or self.tokenizer
        if tok is None:
            raise ValueError("Dashboards.feature needs a tokenizer to show tokens: pass tokenizer=scope.tokenizer")
        examples = []
        for ex in self.top_examples(i):
            examples.append({"tokens": token_strings(tok, ex["token_ids"]), "values": ex["values"], "max_pos": ex["max_pos"]})
        label = self.auto_labels[i] if self.auto_labels is not None and i < len(self.auto_labels) else None
        return FeatureDashboardData(
            feature=i,
            label=label,
            label_source="auto" if label else None,
            density=float(self.density[i]),
            max_activation=float(self.max_activation[i]),
            mean_activation=float(self.mean_activation[i]),
            histogram=histogram_dict(self.histogram_counts(i)),
            top_examples=examples,
            logits_promoted=self._logits(i, "top", tok),
            logits_suppressed=self._logits(i, "bottom", tok),
            frequent_tokens=[[t, c, round(p, 4)] for t, c, p in self.frequent_tokens(i, tok)],
            source=str(self.meta.get("source", "")),
            n_tokens=self.n_tokens,
        )

    def _logits(self, i: int, which: str, tok) -> list[tuple[str, float]]:
        ids = self.arrays.get(f"logit_{which}_ids")
        if ids is None:
            return []
        values = self.arrays[f"logit_{which}_values"][i]
        return list(zip(token_strings(tok, ids[i].tolist()), [float(v) for v in values]))

    def max_token_index(self, tokenizer=None) -> dict[str, np.ndarray]:
        """For search: normalised token text -> ``[d_sae]`` counts of top examples peaking on it (cached)."""
        if getattr(self, "_max_index", None) is None:
            strings = TokenStrings(tokenizer or self.tokenizer)
            gidx = self.arrays["ex_gidx"]
            ok = (gidx >= 0) & (self.arrays["ex_value"] > 0)
            feats, _ = np.nonzero(ok)
            ids = self.arrays["tokens"][gidx[ok]]
            index: dict[str, np.ndarray] = {}
            for f, t in zip(feats.tolist(), ids.tolist()):
                w = show_token(strings(t))
                if w:
                    row = index.setdefault(w.lower(), np.zeros(self.d_sae, dtype=np.int32))
                    row[f] += 1
            self._max_index = index
        return self._max_index

    # ------------------------------------------------------------------ labels
    def compute_auto_labels(self, tokenizer=None) -> list[str | None]:
        """Automatic labels of every feature (see :func:`auto_label`), kept in ``self.auto_labels``."""
        tok = tokenizer or self.tokenizer
        labels: list[str | None] = []
        strings = TokenStrings(tok)
        lex = lexicon()  # WordNet when installed: merges inflections, names what the words share
        a = self.arrays
        strong = None
        if "logit_top_ids" in a and "logit_mean" in a:
            strong = strong_logits(a["logit_top_values"][:, :5], a["logit_mean"], a["logit_std"], self.meta.get("vocab_size"))
        density = self.density
        for i in range(self.d_sae):
            examples = self.top_examples(i) if a["ex_value"][i, 0] > 0 else []
            promoted = [strings(t) for t, ok in zip(a["logit_top_ids"][i, :5].tolist(), strong[i]) if ok] if strong is not None else []
            # each example's token, the one before (None at a text's start: top_examples leaves BOS out) and after
            tokens = [strings(ex["token_ids"][ex["max_pos"]]) for ex in examples]
            before = [strings(ex["token_ids"][ex["max_pos"] - 1]) if ex["max_pos"] > 0 else None for ex in examples]
            after = [strings(ex["token_ids"][ex["max_pos"] + 1]) if ex["max_pos"] + 1 < len(ex["token_ids"]) else None
                     for ex in examples]
            labels.append(usual_label(auto_label(
                [(t, b, ex["value"]) for t, b, ex in zip(tokens, before, examples)],
                promoted,
                contexts=[[strings(t) for t in ex["token_ids"]] for ex in examples],
                lex=lex,
                nexts=after,
            ), self.frequent_tokens(i, strings), float(density[i]), lex, place=top_place(list(zip(tokens, before, after)))))
        self.auto_labels = labels
        return labels

    def stored(self) -> "Dashboards":
        """A copy whose arrays are what :meth:`save` writes and :meth:`load` reads back (float16 values,
        contexts in 1/255 steps): labels made from it are the labels a reload makes."""
        return type(self)(_from_disk(self._to_disk()), dict(self.meta), None, self.tokenizer)

    def _to_disk(self) -> dict[str, np.ndarray]:
        """The arrays as :meth:`save` writes them (:func:`_from_disk` reads them back)."""
        return _compact(_quantise_context(self.arrays, self.d_sae, int(self.meta["n_examples"])))

    # ------------------------------------------------------------------ files
    def save(self, directory: str | os.PathLike) -> Path:
        """Write ``dashboards.safetensors`` (arrays: token ids, not strings; float16 values where they
        fit), ``meta.json`` and ``labels.json`` (the automatic labels) into ``directory``, atomically."""
        from safetensors.numpy import save_file

        out = Path(directory).expanduser()
        out.mkdir(parents=True, exist_ok=True)
        arrays = self._to_disk()
        meta = dict(self.meta)
        tensors = {k: np.ascontiguousarray(v) for k, v in arrays.items()}
        # "format" is the format's name, kept for files already written; atomic_write leaves the file readable
        atomic_write(out / ARRAYS_FILE, lambda tmp: save_file(tensors, tmp, metadata={"format": "scope_widgets.dashboards"}))
        atomic_write_json(out / META_FILE, meta, indent=1)
        self.save_labels(out)
        return out

    def save_labels(self, directory: str | os.PathLike) -> None:
        """Write ``labels.json`` (the automatic labels) alone, e.g. after ``compute_auto_labels`` again."""
        if self.auto_labels is not None:
            atomic_write_json(Path(directory).expanduser() / LABELS_FILE, {
                "source": "auto",
                "note": "made automatically from the top examples (their words, merged by lemma; a shared WordNet "
                        "hypernym; the tokens around them) and the logit effects; for features active on 1% of "
                        "tokens or more, from the tokens they usually fire on when the top examples disagree, "
                        "followed by what the top examples repeat or, when no word repeats, the tokens around them "
                        "or where they stand (after \"· top:\")",
                "labels": {str(i): s for i, s in enumerate(self.auto_labels) if s}}, indent=1)

    @classmethod
    def load(cls, directory: str | os.PathLike, tokenizer=None) -> "Dashboards":
        """Read what :meth:`save` wrote (arrays widened back to int64 / float32)."""
        from safetensors.numpy import load_file

        src = Path(directory).expanduser()
        if not (src / ARRAYS_FILE).is_file() or not (src / META_FILE).is_file():
            raise FileNotFoundError(f"{src} holds no dashboards (expected {ARRAYS_FILE} and {META_FILE})")
        meta = json.loads((src / META_FILE).read_text(encoding="utf-8"))
        if int(meta.get("version", 0)) > FORMAT_VERSION:
            raise ValueError(f"{src} was written by a newer scope_widgets (format {meta['version']}); upgrade to read it")
        arrays = _from_disk(load_file(str(src / ARRAYS_FILE)))
        labels = None
        if (src / LABELS_FILE).is_file():
            raw = json.loads((src / LABELS_FILE).read_text(encoding="utf-8")).get("labels", {})
            labels = [None] * int(meta["d_sae"])
            for k, v in raw.items():
                if 0 <= int(k) < len(labels):
                    labels[int(k)] = v
        return cls(arrays, meta, labels, tokenizer)

    def __repr__(self) -> str:
        alive = int((self.arrays["active_count"] > 0).sum())
        return (f"Dashboards({self.sae_name!r}: {self.d_sae} features, {alive} active, over {self.n_tokens} tokens, "
                f"{self.meta.get('n_examples')} examples per feature)")


def _from_disk(raw: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Arrays as written by :meth:`Dashboards.save`, widened back (int64, float32) and dequantised."""
    return _dequantise_context({k: _widen(v) for k, v in raw.items()})


def _quantise_context(arrays: dict[str, np.ndarray], d_sae: int, n_examples: int) -> dict[str, np.ndarray]:
    """Context activations as uint8 steps of each example's own scale (its largest value in the window):
    1 byte per entry instead of 4, at 1/255 of the example's max, plenty for colouring tokens."""
    if "ctx_value" not in arrays:
        return arrays
    out = dict(arrays)
    values = arrays["ctx_value"].astype(np.float32)  # activations are >= 0
    feat = np.repeat(np.arange(d_sae), np.diff(arrays["ctx_indptr"]))
    flat = feat * n_examples + arrays["ctx_slot"].astype(np.int64)
    scale = np.zeros(d_sae * n_examples, dtype=np.float32)
    np.maximum.at(scale, flat, np.abs(values))
    scale16 = scale.astype(np.float16)
    if not np.isfinite(scale16).all():  # beyond float16: keep float32 scales
        scale16 = scale
    denom = np.maximum(scale16.astype(np.float32)[flat], 1e-30)
    out["ctx_q"] = np.clip(np.rint(np.abs(values) / denom * 255), 0, 255).astype(np.uint8)
    out["ctx_scale"] = scale16.reshape(d_sae, n_examples)
    del out["ctx_value"]
    return out


def _dequantise_context(arrays: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    if "ctx_q" not in arrays:
        return arrays
    out = dict(arrays)
    scale = arrays["ctx_scale"].astype(np.float32)
    d_sae, n_examples = scale.shape
    feat = np.repeat(np.arange(d_sae), np.diff(arrays["ctx_indptr"]))
    flat = feat * n_examples + arrays["ctx_slot"].astype(np.int64)
    out["ctx_value"] = (arrays["ctx_q"].astype(np.float32) / 255.0) * scale.reshape(-1)[flat]
    del out["ctx_q"], out["ctx_scale"]
    return out


def _sparse_hist(hist: np.ndarray) -> dict[str, np.ndarray]:
    """Keep each feature's histogram from its first to its last nonzero bin."""
    nz = hist > 0
    any_ = nz.any(1)
    lo = np.where(any_, nz.argmax(1), 0)
    hi = np.where(any_, hist.shape[1] - nz[:, ::-1].argmax(1), 0)
    spans = hi - lo
    indptr = np.concatenate([[0], np.cumsum(spans)])
    cols = np.arange(hist.shape[1])
    keep = (cols[None, :] >= lo[:, None]) & (cols[None, :] < hi[:, None])
    return {"hist_lo": lo.astype(np.int64), "hist_indptr": indptr.astype(np.int64), "hist_counts": hist[keep].astype(np.int64)}


def histogram_dict(counts: np.ndarray) -> dict:
    nz = np.nonzero(counts)[0]
    if not len(nz):
        return {"edges": [], "counts": []}
    lo, hi = int(nz[0]), int(nz[-1]) + 1
    return {"edges": [float(e) for e in HIST_EDGES[lo : hi + 1]], "counts": [int(c) for c in counts[lo:hi]]}


def _compact(arrays: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Smaller dtypes for saving: int32 ids and indices when they fit, float16 values when they fit."""
    out = {}
    for k, v in arrays.items():
        if v.dtype == np.int64 and (v.size == 0 or (v.min() >= np.iinfo(np.int32).min and v.max() <= np.iinfo(np.int32).max)):
            v = v.astype(np.int32)
        elif k in ("ex_value", "ctx_value", "logit_top_values", "logit_bottom_values") and v.dtype == np.float32:
            if v.size == 0 or np.abs(v).max() < 6e4:
                v = v.astype(np.float16)
        elif k == "sum_activation":
            v = v.astype(np.float32)
        out[k] = v
    return out


def _widen(v: np.ndarray) -> np.ndarray:
    if v.dtype in (np.int32, np.int16):
        return v.astype(np.int64)
    if v.dtype == np.float16:
        return v.astype(np.float32)
    return v
