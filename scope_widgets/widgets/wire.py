"""The wire format: how a ``FeatureActivations`` becomes the widgets' synced traits (binary, never JSON floats).

The one description of the bytes (``js/binary.ts`` decodes them and ``js/store.ts`` reads the layout):

- ``top_ids``: int32 little-endian, row-major ``[n_tokens, k]``, each token's strongest features first;
- ``top_values``: float32 little-endian, same shape: their activations;
- ``word_ranks``: uint8, same shape: where each comes in a clicked token's list: 1 to 127, the features of the
  token's word; from 129 (``TEXT_RANK_BASE + 1``), those that stand out in the whole text; 0, the others,
  listed after them strongest first; may be empty;
- ``columns``: float32 little-endian ``[len(column_ids), n_tokens]``: exact activations of the listed features;
- the column reply to ``{"type": "column", "feature": id}``: one float32 buffer ``[n_tokens]``.

Per token: top-k ids (int32) and values (float32), 8 bytes per (token, feature) pair. Per listed
feature: its exact activation at every token (float32), so a click on any listed feature recolours
the heatmap in the browser with exact values and no kernel round trip. Features outside the list are
answered on request (``{"type": "column", "feature": id}``) with one float32 buffer.
"""

from __future__ import annotations

import logging
from typing import Any, Iterable

import numpy as np
import traitlets

from ..runtime import check_feature, check_k

log = logging.getLogger("scope_widgets.widgets")

DEFAULT_K = 32  # top features kept per token
DEFAULT_N_FEATURES = 64  # features listed (with exact columns)
MAX_LABELS = 4096  # labels sent up front


def top_k_buffers(acts: Any, k: int | None = None) -> dict:
    """Per-token top-k as raw little-endian bytes: int32 ids and float32 values, row-major ``[n_tokens, k]``:
    8 bytes per (token, feature) pair."""
    top_ids, top_values = np.asarray(acts.top_ids), np.asarray(acts.top_values)
    have = int(top_ids.shape[1]) if top_ids.ndim == 2 else 0
    k = have if k is None else min(check_k(k), have)
    ids = np.ascontiguousarray(top_ids[:, :k], dtype="<i4")
    values = np.ascontiguousarray(top_values[:, :k], dtype="<f4")
    return {"n_tokens": int(top_ids.shape[0]), "k": k, "top_ids": ids.tobytes(), "top_values": values.tobytes()}


def word_rank_bytes(acts: Any, k: int, labels: dict[str, str] | None = None) -> bytes:
    """Per token, where each of its first ``k`` features (as sent) comes in its list: its word's, then the
    text's (see ``FeatureActivations.word_ranks``; ``labels``: ``{str(id): label}`` as sent): uint8
    ``[n_tokens, k]``, 0 for the others (ranks past 255 are sent as 255). Empty for activations without
    word ranks."""
    if not callable(getattr(acts, "word_ranks", None)):
        return b""
    named = {int(f): t for f, t in (labels or {}).items()}
    ranks = np.asarray(acts.word_ranks(named), dtype=np.int64)[:, :k]
    return np.ascontiguousarray(np.clip(ranks, 0, 255), dtype=np.uint8).tobytes()


def listed_features(acts: Any, n_features: int) -> list[int]:
    """The features a list shows first: those that stand out in this text (``acts.standout``) when the
    SAE has reference statistics, then the strongest (``acts.top``) to fill up, without repeats."""
    if n_features <= 0:
        return []
    ids = [int(i) for i, _ in acts.standout(n_features)] if callable(getattr(acts, "standout", None)) else []
    for i, _ in acts.top(n_features):
        if len(ids) >= n_features:
            break
        if int(i) not in ids:
            ids.append(int(i))
    return ids[:n_features]


def first_listed(acts: Any) -> int | None:
    """The feature a widget shows first: the top of its list (what stands out most in the text, see
    :func:`listed_features`), so the heatmap and dashboard open on the list's first row; None for no feature."""
    ids = listed_features(acts, 1)
    return ids[0] if ids else None


def pack_activations(acts: Any, *, k: int | None = None, n_features: int = DEFAULT_N_FEATURES) -> dict:
    """The data traits for ``acts`` (see ``ActivationTraits``)."""
    buffers = top_k_buffers(acts, k)
    n = int(buffers["n_tokens"])
    kk = int(buffers["k"])
    ids = listed_features(acts, n_features)
    cols = np.asarray(acts.features(ids), dtype="<f4").reshape(len(ids), n) if ids else np.zeros((0, n), "<f4")
    tokens = [str(t) for t in acts.tokens]
    if len(tokens) != n:
        raise ValueError(f"{len(tokens)} tokens but the activations have {n} rows")
    sae = getattr(acts, "sae", None)
    return {
        "tokens": tokens,
        "has_bos": bool(getattr(acts, "has_bos", False)),
        "n_tokens": n,
        "k": kk,
        "top_ids": bytes(buffers["top_ids"]),
        "top_values": bytes(buffers["top_values"]),
        "column_ids": ids,
        "columns": np.ascontiguousarray(cols).tobytes(),
        "sae_name": str(getattr(sae, "name", "") or ""),
    }


def column_bytes(acts: Any, feature: int) -> bytes:
    """Exact activation of ``feature`` at every token, float32 little-endian."""
    return np.ascontiguousarray(acts.feature(int(feature)), dtype="<f4").tobytes()


def echoed(content: dict) -> dict:
    """What a column reply echoes of the request: the browser's ``epoch`` (how many data changes it has seen,
    so it can drop a reply about the text before its latest change), when it is an integer."""
    epoch = content.get("epoch")
    return {"epoch": epoch} if isinstance(epoch, int) and not isinstance(epoch, bool) else {}


def send_column(widget: Any, acts: Any, feature: Any, **extra: Any) -> None:
    """Answer the browser's ``{"type": "column", "feature": id}``: the exact column as one float32 buffer, or
    ``{"error": ...}`` for a bad id (``extra``, e.g. Compare's ``side`` and the request's ``epoch``, is echoed
    in the reply)."""
    try:
        if isinstance(feature, str):
            raise ValueError(f"feature ids are integers; got {feature!r}")
        feature = check_feature(feature, 1 << 62)
        if acts is None:
            raise ValueError("no activations")
        data = column_bytes(acts, feature)
    except Exception as err:
        widget.send({"type": "column", "feature": feature, **extra, "error": f"{err}"})
        return
    widget.send({"type": "column", "feature": feature, **extra, "n_tokens": len(data) // 4}, buffers=[data])


def tooltip_feature_ids(acts: Any, per_token: int | None = None) -> list[int]:
    """Features the browser lists without asking, whose labels it needs: every feature kept for a token
    (a clicked token lists all of them; ``per_token`` keeps each token's first few only; ``MAX_LABELS``
    caps the total)."""
    top = np.asarray(acts.top_ids)[:, :per_token]
    vals = np.asarray(acts.top_values)[:, :per_token]
    return [int(i) for i in np.unique(top[vals > 0])]


def gather_labels(scope: Any, ids: Iterable[int], limit: int = MAX_LABELS) -> dict[str, str]:
    """``{str(id): label}`` for the ids that have one; empty when the scope has no labels (yet)."""
    label = getattr(scope, "label", None)
    if scope is None or not callable(label):
        return {}
    out: dict[str, str] = {}
    for i, fid in enumerate(dict.fromkeys(int(f) for f in ids)):
        if i >= limit:
            break
        try:
            text = label(fid)
        except (ImportError, NotImplementedError, AttributeError) as err:  # labels not available here
            log.debug("no labels: %s", err)
            return out
        except Exception as err:  # one bad id must not cost the rest
            log.debug("label(%s) failed: %s", fid, err)
            continue
        if text:
            out[str(fid)] = str(text)
    return out


class ActivationTraits(traitlets.HasTraits):
    """The synced activation data of one text (read by the heatmap and the feature list)."""

    tokens = traitlets.List(traitlets.Unicode()).tag(sync=True)
    has_bos = traitlets.Bool(False).tag(sync=True)
    n_tokens = traitlets.Int(0).tag(sync=True)
    k = traitlets.Int(0).tag(sync=True)
    top_ids = traitlets.Bytes(b"").tag(sync=True)  # int32 [n_tokens, k]
    top_values = traitlets.Bytes(b"").tag(sync=True)  # float32 [n_tokens, k]
    # uint8 [n_tokens, k]: a clicked token lists the features of its word first, in this order (1 first; 0:
    # the others, strongest first); empty: strongest first
    word_ranks = traitlets.Bytes(b"").tag(sync=True)
    column_ids = traitlets.List(traitlets.Int()).tag(sync=True)
    columns = traitlets.Bytes(b"").tag(sync=True)  # float32 [len(column_ids), n_tokens]
    labels = traitlets.Dict().tag(sync=True)  # {str(feature id): label}
    sae_name = traitlets.Unicode("").tag(sync=True)
    # how the list orders the text's features: "standout" (firing on more tokens than the feature's usual
    # rate predicts, the kernel's order of column_ids) or "strongest" (by max activation); a click switches in the browser
    ranking = traitlets.Enum(("standout", "strongest"), "standout").tag(sync=True)

    _acts: Any = None

    def _set_activations(self, acts: Any, *, k: int | None, n_features: int, scope: Any = None,
                         labels: dict | None = None) -> None:
        state = pack_activations(acts, k=k, n_features=n_features)
        ids = list(state["column_ids"]) + tooltip_feature_ids(acts)
        found = gather_labels(scope, ids)
        found.update({str(int(f)): str(t) for f, t in (labels or {}).items() if t})
        state["labels"] = found
        state["word_ranks"] = word_rank_bytes(acts, state["k"], found)
        self._acts = acts
        with self.hold_sync():  # type: ignore[attr-defined]
            for name, value in state.items():
                setattr(self, name, value)

    @property
    def activations(self) -> Any:
        """The ``FeatureActivations`` shown."""
        return self._acts

    def _msg_column(self, content: dict, _buffers: list) -> None:
        send_column(self, self._acts, content.get("feature"), **echoed(content))
