"""Feature dashboards for the widgets: ``scope.dashboard(feature)`` to synced state.

The dashboard object (``scope_widgets.analysis.FeatureDashboardData``) is read by attribute (a dict works too):
``feature, label, label_source, density, max_activation, histogram {"edges", "counts"},
top_examples [{"tokens", "values", "max_pos"}], logits_promoted / logits_suppressed [(token, value)],
frequent_tokens [(token, texts, share)]`` (the tokens it usually fires on; optional).
Example activations travel as one float32 buffer (``dashboard_values``); the JSON keeps each
example's tokens with its ``offset`` and ``length`` into that buffer.
"""

from __future__ import annotations

import logging
import math
import threading
from typing import Any

import numpy as np
import traitlets

from ._base import LatestWorker, background

log = logging.getLogger("scope_widgets.widgets")

MAX_EXAMPLES = 20
MAX_LOGITS = 12
MAX_FREQUENT = 10
UNAVAILABLE = (ImportError, NotImplementedError, AttributeError, FileNotFoundError)


def _get(obj: Any, name: str, default: Any = None) -> Any:
    if isinstance(obj, dict):
        return obj.get(name, default)
    return getattr(obj, name, default)


def _num(x: Any) -> float | None:
    try:
        v = float(x)
    except (TypeError, ValueError):
        return None
    return v if math.isfinite(v) else None


def _pairs(items: Any) -> list[list]:
    out = []
    for item in list(items or [])[:MAX_LOGITS]:
        try:
            tok, val = item
        except (TypeError, ValueError):
            continue
        v = _num(val)
        if v is not None:
            out.append([str(tok), v])
    return out


def _frequent(items: Any) -> list[list]:
    """``[[token, texts, share]]`` with a count >= 1 and a share in [0, 1]; malformed rows dropped."""
    out = []
    for item in list(items or []):
        try:
            tok, n, share = item
        except (TypeError, ValueError):
            continue
        n, share = _num(n), _num(share)
        if n is not None and n >= 1 and share is not None and 0 <= share <= 1:
            out.append([str(tok), int(n), share])
        if len(out) == MAX_FREQUENT:
            break
    return out


def dashboard_state(scope: Any, feature: int) -> tuple[dict, bytes]:
    """``(dashboard, dashboard_values)`` trait values for ``feature``; never raises."""
    can_label = callable(getattr(scope, "set_label", None))
    base = {"feature": int(feature), "can_label": can_label}
    fn = getattr(scope, "dashboard", None)
    if not callable(fn):
        return {**base, "status": "unavailable", "message": "This scope has no dashboards.",
                "label": _label(scope, feature)}, b""
    _warm_quietly(scope)
    try:
        d = fn(int(feature))
    except UNAVAILABLE as err:
        return {**base, "status": "unavailable", "message": f"No dashboard data: {err}",
                "label": _label(scope, feature)}, b""
    except Exception as err:
        log.debug("dashboard(%s) failed", feature, exc_info=True)
        return {**base, "status": "error", "message": f"Dashboard failed: {type(err).__name__}: {err}",
                "label": _label(scope, feature)}, b""
    if d is None:
        return {**base, "status": "unavailable", "message": "No dashboard data for this feature.",
                "label": _label(scope, feature)}, b""

    examples, chunks, offset = [], [], 0
    for ex in list(_get(d, "top_examples", None) or [])[:MAX_EXAMPLES]:
        tokens = [str(t) for t in (_get(ex, "tokens", None) or [])]
        raw = _get(ex, "values", None)
        values = np.asarray(raw if raw is not None else [], dtype="<f4").ravel()
        n = min(len(tokens), len(values)) if len(values) else len(tokens)
        values = values[:n] if len(values) else np.zeros(n, "<f4")
        tokens = tokens[:n]
        max_pos = _get(ex, "max_pos", None)
        max_pos = int(max_pos) if isinstance(max_pos, (int, np.integer)) and 0 <= max_pos < n else (int(np.argmax(values)) if n else -1)
        examples.append({"tokens": tokens, "offset": offset, "length": n, "max_pos": max_pos})
        chunks.append(values)
        offset += n

    hist = _get(d, "histogram", None)
    histogram = None
    if hist:
        edges = [_num(e) for e in (_get(hist, "edges", None) or [])]
        counts = [int(c) for c in (_get(hist, "counts", None) or [])]
        if edges and None not in edges and len(edges) == len(counts) + 1:
            histogram = {"edges": edges, "counts": counts}

    label = _get(d, "label", None)
    state = {
        **base,
        "status": "ok",
        "label": str(label) if label else None,
        "label_source": _get(d, "label_source", None),
        "density": _num(_get(d, "density", None)),
        "max_activation": _num(_get(d, "max_activation", None)),
        "histogram": histogram,
        "examples": examples,
        "logits_promoted": _pairs(_get(d, "logits_promoted", None)),
        "logits_suppressed": _pairs(_get(d, "logits_suppressed", None)),
        "frequent_tokens": _frequent(_get(d, "frequent_tokens", None)),
    }
    values = np.concatenate(chunks).astype("<f4") if chunks else np.zeros(0, "<f4")
    return state, values.tobytes()


def _warm_quietly(scope: Any) -> None:
    """Load (or compute) the SAE's dashboards without a progress bar: this runs in a worker thread, whose
    output would land in whichever notebook cell happens to be running."""
    warm = getattr(scope, "dashboards", None)
    if not callable(warm):
        return
    try:
        warm(progress=False)
    except Exception:  # scope.dashboard() reports the real error
        pass


def fill_feature_max(widget: Any, scope: Any, ids: list[int]) -> threading.Thread | None:
    """Fill ``widget.feature_max`` (slider ranges: ``scope.steering_scale``) for ``ids``, in a background thread."""
    missing = [int(f) for f in ids if str(int(f)) not in widget.feature_max]
    if not missing or not callable(getattr(scope, "dashboard", None)):
        return None

    scale = getattr(scope, "steering_scale", None)

    def work() -> None:
        found = {}
        for f in missing:
            if callable(scale):  # the feature's max, but at least a tenth of a typical activation's norm
                try:
                    mx = float(scale(f))
                except Exception:  # the slider falls back to its own default range
                    mx = None
            else:
                mx = dashboard_state(scope, f)[0].get("max_activation")
            if mx and mx > 0:
                found[str(f)] = mx
        if found:
            widget.feature_max = {**widget.feature_max, **found}

    return background(work, "scope-widgets-feature-max")


def _label(scope: Any, feature: int) -> str | None:
    fn = getattr(scope, "label", None)
    if not callable(fn):
        return None
    try:
        text = fn(int(feature))
    except Exception:
        return None
    return str(text) if text else None


class DashboardTraits(traitlets.HasTraits):
    """A dashboard for one feature at a time, loaded off the kernel's message loop."""

    dashboard = traitlets.Dict().tag(sync=True)
    dashboard_values = traitlets.Bytes(b"").tag(sync=True)  # float32, the examples' activations
    feature_max = traitlets.Dict().tag(sync=True)  # {str(id): typical max activation}, for slider ranges

    _scope: Any = None
    _dashboard_worker: LatestWorker | None = None
    _dashboard_cache: dict | None = None
    _dashboard_lock: threading.Lock | None = None

    def _dashboard_feature(self) -> int | None:  # which feature the view shows; overridden
        raise NotImplementedError

    def _init_dashboards(self, scope: Any) -> None:
        self._scope = scope
        self._dashboard_cache = {}
        self._dashboard_lock = threading.Lock()
        self._dashboard_worker = LatestWorker(self._compute_dashboard, "scope-widgets-dashboard")

    def load_dashboard(self, feature: int | None, wait: bool = False) -> None:
        """Show ``feature``'s dashboard: from the cache at once, else computed in a worker thread."""
        if feature is None or self._dashboard_worker is None:
            return
        cached = (self._dashboard_cache or {}).get(int(feature))
        if cached is not None:
            self._publish_dashboard(int(feature), *cached)
            return
        if wait:
            self._compute_dashboard(int(feature))
        else:
            self._dashboard_worker.submit(int(feature))

    def wait_dashboard(self, timeout: float | None = 30) -> bool:
        """Block until the dashboard worker is idle (tests and scripts)."""
        return self._dashboard_worker.wait(timeout) if self._dashboard_worker else True

    def _compute_dashboard(self, feature: int) -> None:
        state, values = dashboard_state(self._scope, feature)
        if state.get("status") == "ok":
            assert self._dashboard_cache is not None
            self._dashboard_cache[feature] = (state, values)
        self._publish_dashboard(feature, state, values)

    def _publish_dashboard(self, feature: int, state: dict, values: bytes) -> None:
        assert self._dashboard_lock is not None
        with self._dashboard_lock:
            if self._dashboard_feature() != feature:
                return  # the user moved on
            # worker thread: no hold_sync (not thread-safe); values first, the JSON that indexes them last
            self.dashboard_values = values
            self.dashboard = state
            mx = state.get("max_activation")
            if mx and mx > 0 and self.feature_max.get(str(feature)) != mx:
                self.feature_max = {**self.feature_max, str(feature): mx}

    def _msg_set_label(self, content: dict, _buffers: list) -> None:
        feature = content.get("feature")
        label = content.get("label")
        if isinstance(feature, bool) or not isinstance(feature, int) or not isinstance(label, str):
            self.send({"type": "label_error", "feature": feature, "error": "bad request"})  # type: ignore[attr-defined]
            return
        text = label.strip() or None
        setter = getattr(self._scope, "set_label", None)
        try:
            if not callable(setter):
                raise NotImplementedError("this scope cannot store labels")
            setter(feature, text)
        except Exception as err:
            self.send({"type": "label_error", "feature": feature, "error": f"{err}"})  # type: ignore[attr-defined]
            return
        self._apply_label(feature, text)
        self.send({"type": "label_saved", "feature": feature, "label": text or ""})  # type: ignore[attr-defined]

    def _apply_label(self, feature: int, text: str | None) -> None:
        labels = dict(getattr(self, "labels", {}) or {})
        if text:
            labels[str(feature)] = text
        else:
            labels.pop(str(feature), None)
        cache = self._dashboard_cache or {}
        if feature in cache:
            state, values = cache[feature]
            cache[feature] = ({**state, "label": text, "label_source": "user" if text else None}, values)
        with self.hold_sync():  # type: ignore[attr-defined]
            if self.has_trait("labels"):
                self.labels = labels  # type: ignore[attr-defined]
            if self.dashboard.get("feature") == feature:
                self.dashboard = {**self.dashboard, "label": text, "label_source": "user" if text else None}
