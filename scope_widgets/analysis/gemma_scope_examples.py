"""Gemma Scope 2's ``examples.safetensors``: free dashboards for the released SAEs, read lazily."""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import numpy as np
import torch

from ..engine import hooks
from ..engine.tokens import pad_batch, pad_id, token_strings
from ..engine.unembed import logit_effects, logit_stats, unembedding
from .auto_labels import TokenStrings, auto_label, strong_logits
from .records import FeatureDashboardData
from .stats import ENCODE_ELEMENTS

__all__ = ["GS2_EXAMPLE_KEYS", "GemmaScopeExamples", "ExampleLabels", "examples_dashboard"]


#: The layout of Gemma Scope 2's ``examples.safetensors`` (as read from the released files' headers by
#: third parties; not documented by the release itself). F = d_sae, K = 1000 examples, S sequences of 512.
GS2_EXAMPLE_KEYS = {
    "activations": "[F, K] float: the feature's activation at each of its top K examples",
    "seq_ids": "[F, K] int: which row of `tokens` each example is in (negative: no example)",
    "positions": "[F, K] int: the token position of each example in its row",
    "tokens": "[S, 512] int: the token corpus the examples point into",
    "top_tokens": "[F, 10] int: token ids the feature promotes most",
    "top_logits": "[F, 10] float: their logit effects",
    "bottom_tokens": "[F, 10] int: token ids the feature suppresses most",
    "bottom_logits": "[F, 10] float: their logit effects",
    "feature_frequencies": "[F] float: how often the feature fires",
}
_GS2_EXAMPLES = ("activations", "seq_ids", "positions", "tokens")
_GS2_LOGITS = ("top_tokens", "top_logits")


class GemmaScopeExamples:
    """A lazy reader of a Gemma Scope 2 ``examples.safetensors`` (memory-mapped: only the rows a
    feature needs are read). Unknown keys are ignored; missing ones give a clear error when needed."""

    def __init__(self, path: str | os.PathLike) -> None:
        from safetensors import safe_open

        self.path = Path(path)
        if not self.path.is_file():
            raise FileNotFoundError(f"no examples file at {self.path}")
        try:
            self._fh = safe_open(str(self.path), framework="pt")
        except Exception as err:
            raise ValueError(f"{self.path} is not a readable safetensors file ({err})") from err
        self.keys = set(self._fh.keys())
        if not (set(_GS2_EXAMPLES) <= self.keys or set(_GS2_LOGITS) <= self.keys):
            expected = "\n".join(f"  {k}: {v}" for k, v in GS2_EXAMPLE_KEYS.items())
            raise ValueError(
                f"{self.path} does not look like a Gemma Scope 2 examples.safetensors: it has the keys "
                f"{sorted(self.keys)}, but needs at least {list(_GS2_EXAMPLES)} (top examples) or "
                f"{list(_GS2_LOGITS)} (top logits). The layout read here:\n{expected}"
            )
        self.has_examples = set(_GS2_EXAMPLES) <= self.keys
        self._cache: dict[str, torch.Tensor] = {}
        self.d_sae = int(self._shape(_GS2_EXAMPLES[0] if self.has_examples else _GS2_LOGITS[0])[0])

    def _shape(self, key: str) -> list[int]:
        return list(self._fh.get_slice(key).get_shape())

    def _row(self, key: str, i: int) -> torch.Tensor | None:
        if key not in self.keys:
            return None
        return self._fh.get_slice(key)[i : i + 1][0]

    def _whole(self, key: str) -> torch.Tensor | None:
        if key not in self.keys:
            return None
        if key not in self._cache:
            self._cache[key] = self._fh.get_tensor(key)
        return self._cache[key]

    def examples(self, i: int, n: int) -> list[tuple[float, int, int]]:
        """The ``n`` strongest ``(activation, seq_id, position)`` of feature ``i``."""
        if not self.has_examples:
            return []
        acts = self._row("activations", i).float()
        seqs = self._row("seq_ids", i).long()
        poss = self._row("positions", i).long()
        n_seqs, seq_len = self._shape("tokens")[:2]
        ok = (acts > 0) & (seqs >= 0) & (seqs < n_seqs) & (poss >= 0) & (poss < seq_len)
        order = torch.argsort(torch.where(ok, acts, torch.full_like(acts, -1.0)), descending=True, stable=True)
        return [(float(acts[j]), int(seqs[j]), int(poss[j])) for j in order[:n].tolist() if bool(ok[j])]

    def all_activations(self, i: int) -> np.ndarray:
        if not self.has_examples:
            return np.zeros(0, dtype=np.float32)
        acts = self._row("activations", i).float()
        return acts[acts > 0].numpy()

    def sequence(self, seq_id: int) -> torch.Tensor:
        return self._fh.get_slice("tokens")[seq_id : seq_id + 1][0].long()

    def logits(self, i: int, which: str) -> tuple[list[int], list[float]] | None:
        ids, vals = self._row(f"{which}_tokens", i), self._row(f"{which}_logits", i)
        if ids is None or vals is None:
            return None
        return [int(t) for t in ids.tolist()], [float(v) for v in vals.float().tolist()]

    def density(self) -> np.ndarray | None:
        """Per-feature firing frequency, when the file has it and it reads as a fraction."""
        freq = self._whole("feature_frequencies")
        if freq is None:
            return None
        freq = freq.float().numpy()
        return freq if float(np.nanmax(freq, initial=0)) <= 1.0 else None

    def max_activation(self) -> np.ndarray | None:
        """Per-feature max of the stored activations, read in row blocks (the whole array of a 262k SAE
        is a gigabyte) and remembered."""
        if "activations" not in self.keys:
            return None
        if "_max" not in self._cache:
            sl = self._fh.get_slice("activations")
            rows, cols = sl.get_shape()[:2]
            step = max(1, ENCODE_ELEMENTS // max(1, cols))
            self._cache["_max"] = torch.cat([sl[a : a + step].float().amax(1).clamp_min(0) for a in range(0, rows, step)])
        return self._cache["_max"].numpy()


class ExampleLabels:
    """Automatic labels of a Gemma Scope 2 SAE, made on demand from its examples file (memoised)."""

    def __init__(self, reader: GemmaScopeExamples, model, tokenizer, sae, n: int = 20) -> None:
        self.reader, self.strings, self.n, self.memo = reader, TokenStrings(tokenizer), n, {}
        self.model, self.sae = model, sae

    def get(self, feature: int) -> str | None:
        if feature not in self.memo:
            found = []
            for value, seq, pos in self.reader.examples(feature, self.n):
                row = self.reader.sequence(seq)
                found.append((self.strings(row[pos]), self.strings(row[pos - 1]) if pos > 0 else None, value))
            top = self.reader.logits(feature, "top")
            promoted = []
            if top:
                stats = logit_stats(self.model, self.sae)
                strong = strong_logits(np.asarray([top[1][:5]]), stats["mean"][feature : feature + 1].numpy(),
                                        stats["std"][feature : feature + 1].numpy(), unembedding(self.model).shape[0])[0]
                promoted = [self.strings(t) for t, ok in zip(top[0][:5], strong) if ok]
            self.memo[feature] = auto_label(found, promoted)
        return self.memo[feature]


def examples_dashboard(model, tokenizer, sae, feature: int, reader: GemmaScopeExamples, n_examples: int = 20,
                       context: int = 12, recompute: bool = True, label: tuple[str | None, str | None] = (None, None)) -> FeatureDashboardData:
    """One feature's dashboard from a Gemma Scope 2 ``examples.safetensors``.

    Top examples come from the file (the context tokens from its token corpus). The activation on the
    context tokens is not in the file: with ``recompute`` it is recomputed by running each example's
    sequence (up to its last shown token) through the model; otherwise only the max token carries a
    value. The histogram is over the file's stored top activations (not the whole corpus). ``label`` is
    ``(text, source)`` of a label already known (the user's own); otherwise one is made from the examples.
    """
    tok = tokenizer
    found = reader.examples(feature, n_examples)
    windows = []
    for value, seq, pos in found:
        row = reader.sequence(seq)
        lo, hi = max(0, pos - context), min(len(row), pos + context + 1)
        bos = getattr(tok, "bos_token_id", None)
        pad = getattr(tok, "pad_token_id", None)
        while lo < pos and int(row[lo]) in (bos, pad):
            lo += 1
        windows.append((value, row, lo, hi, pos))
    values_by_example: list[list[float]] = []
    exact = False
    if recompute and windows:
        try:
            values_by_example = _recompute_windows(model, tokenizer, sae, feature, windows)
            exact = True
        except Exception as err:  # a model that cannot read this corpus: show the max values only
            warnings.warn(f"could not recompute context activations ({type(err).__name__}: {err}); showing max tokens only", stacklevel=2)
    examples = []
    for j, (value, row, lo, hi, pos) in enumerate(windows):
        vals = values_by_example[j] if exact else [value if p == pos else 0.0 for p in range(lo, hi)]
        examples.append({"tokens": token_strings(tok, row[lo:hi].tolist()), "values": vals, "max_pos": pos - lo})
    acts = reader.all_activations(feature)
    counts, edges = np.histogram(acts, bins=30) if len(acts) else (np.zeros(0, dtype=np.int64), np.zeros(0))
    density = reader.density()
    promoted = reader.logits(feature, "top")
    suppressed = reader.logits(feature, "bottom")
    if promoted is None or suppressed is None:
        effects = logit_effects(model, sae, features=[feature])
        promoted = (effects["top_ids"][0].tolist(), effects["top_values"][0].tolist())
        suppressed = (effects["bottom_ids"][0].tolist(), effects["bottom_values"][0].tolist())
    label, source = label
    if label is None:
        label = ExampleLabels(reader, model, tokenizer, sae).get(feature)
        source = "auto" if label else None
    return FeatureDashboardData(
        feature=feature, label=label, label_source=source,
        density=float(density[feature]) if density is not None else float("nan"),
        max_activation=float(acts.max()) if len(acts) else 0.0,
        mean_activation=float(acts.mean()) if len(acts) else 0.0,
        histogram={"edges": [float(e) for e in edges], "counts": [int(c) for c in counts]},
        top_examples=examples,
        logits_promoted=list(zip(token_strings(tok, promoted[0]), promoted[1])),
        logits_suppressed=list(zip(token_strings(tok, suppressed[0]), suppressed[1])),
        source=f"examples.safetensors ({reader.path}); histogram and mean over its stored top activations"
        + ("" if exact else "; context activations not recomputed"),
    )


def _recompute_windows(model, tokenizer, sae, feature: int, windows) -> list[list[float]]:
    """The feature's activation on each window's tokens, from a forward pass over the sequence prefix."""
    out = []
    device = next(model.parameters()).device
    for start in range(0, len(windows), 8):
        group = windows[start : start + 8]
        ids, mask = pad_batch([row[:hi].tolist() for _, row, _, hi, _ in group], pad_id(tokenizer))
        x = hooks.capture_activations(model, [sae.hook_point_in], ids.to(device), mask.to(device))[sae.hook_point_in]
        with torch.no_grad():
            f = sae.encode_feature(x.to(sae.device), feature).float().cpu()  # [rows, width]
        for r, (_, _, lo, hi, _) in enumerate(group):
            out.append([float(v) for v in f[r, lo:hi]])
    return out
