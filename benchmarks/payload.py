"""Benchmark 3: bytes sent to the browser per token.

Measured, not computed from a formula: the actual payload of ``widgets.wire.top_k_buffers(acts, k)`` and,
once ``scope_widgets.widgets`` exists, the synced state of ``TokenHeatmap`` and ``FeatureList`` as
ipywidgets serialises it (JSON part + binary buffers, split as the comm does). Bytes per token are the
marginal cost: the difference between two texts of different lengths, divided by the difference in
tokens, so constant parts (the bundle, settings) cancel; they are reported separately.
Target: at most 8 bytes per (token, feature) pair for the feature data, and no JSON floats.
"""

from __future__ import annotations

import json
import numbers

from scope_widgets.widgets.wire import top_k_buffers

from benchmarks.common import STATUS_MISSED, STATUS_OK, Result, log, text_with_tokens

TARGET = 8.0
KS = (16, 32, 64)


def json_size(obj) -> int:
    return len(json.dumps(obj, separators=(",", ":"), default=str).encode())


def count_json_floats(obj) -> int:
    """How many float numbers a JSON-able structure holds (bytes/memoryviews are buffers, not JSON)."""
    if isinstance(obj, bool):
        return 0
    if isinstance(obj, float):
        return 1
    if isinstance(obj, numbers.Real) and not isinstance(obj, numbers.Integral):
        return 1
    if isinstance(obj, dict):
        return sum(count_json_floats(v) for v in obj.values())
    if isinstance(obj, (list, tuple)):
        return sum(count_json_floats(v) for v in obj)
    return 0


def split_buffers(payload: dict) -> tuple[dict, int]:
    """(JSON part, total buffer bytes), splitting bytes/memoryview/bytearray out as ipywidgets does."""
    try:
        from ipywidgets.widgets.widget import _remove_buffers

        state, _paths, buffers = _remove_buffers(payload)
        return state, sum(memoryview(b).nbytes for b in buffers)
    except ImportError:  # pragma: no cover - ipywidgets is a dependency
        state, total = {}, 0
        for key, value in payload.items():
            if isinstance(value, (bytes, bytearray, memoryview)):
                total += memoryview(value).nbytes
            else:
                state[key] = value
        return state, total


def measure_buffers(scope, lengths=(128, 512), ks=KS) -> list[dict]:
    acts = {n: scope.features(text_with_tokens(scope.tokenizer, n), k=max(ks)) for n in lengths}
    rows = []
    n1, n2 = lengths
    for k in ks:
        sizes = {}
        for n, a in acts.items():
            state, buffer_bytes = split_buffers(top_k_buffers(a, k))
            sizes[n] = (json_size(state), buffer_bytes, count_json_floats(state), a.n_tokens, top_k_buffers(a, k)["k"])
        (j1, b1, f1, t1, _), (j2, b2, f2, t2, k2) = sizes[n1], sizes[n2]
        json_per_token = (j2 - j1) / (t2 - t1)
        buffer_per_token = (b2 - b1) / (t2 - t1)
        rows.append({
            "what": "widgets.wire.top_k_buffers(acts, k)", "k": k2,
            "bytes at %d tokens" % t2: j2 + b2, "json bytes": j2, "buffer bytes": b2,
            "bytes / token": round(json_per_token + buffer_per_token, 2),
            "bytes / (token, feature)": round(buffer_per_token / k2, 3),
            "json floats": f1 + f2, "pairs / token": str(k2),
            "json bytes / token (token text)": round(json_per_token, 2),
            "constant bytes": int((j1 + b1) - (json_per_token + buffer_per_token) * t1),
        })
    return rows


def widget_classes():
    """(TokenHeatmap, FeatureList) when the widgets exist and import, else None and why."""
    try:
        from scope_widgets.widgets import FeatureList, TokenHeatmap
    except Exception as err:  # noqa: BLE001 - anything that stops the import means "not there yet"
        return None, f"{type(err).__name__}: {err}"
    return (TokenHeatmap, FeatureList), None


def widget_state_size(widget) -> tuple[int, int, int]:
    """(JSON bytes, buffer bytes, JSON floats) of a widget's full synced state, as sent on open."""
    state, buffer_bytes = split_buffers(widget.get_state())
    return json_size(state), buffer_bytes, count_json_floats(state)


def measure_widgets(scope, classes, lengths=(128, 512), ks=KS) -> list[dict]:
    """Per class and k: marginal bytes per token of the synced state, split into the binary feature data
    (top-k pairs at 8 B plus any exact per-feature columns at 4 B, counted as (token, feature) pairs too)
    and the JSON part (the token strings, mostly)."""
    rows = []
    n1, n2 = lengths
    for cls in classes:
        for k in ks:
            sizes = {}
            for n in lengths:
                acts = scope.features(text_with_tokens(scope.tokenizer, n), k=k)
                widget = cls(acts)
                n_columns = len(getattr(widget, "column_ids", []) or [])
                sizes[n] = widget_state_size(widget) + (acts.n_tokens, n_columns)
                widget.close()
            (j1, b1, f1, t1, _), (j2, b2, f2, t2, c2) = sizes[n1], sizes[n2]
            json_per_token = (j2 - j1) / (t2 - t1)
            buffer_per_token = (b2 - b1) / (t2 - t1)
            pairs = k + c2  # (token, feature) pairs sent per token: top-k + exact columns
            rows.append({
                "what": f"{cls.__name__} synced state", "k": k,
                "bytes at %d tokens" % t2: j2 + b2, "json bytes": j2, "buffer bytes": b2,
                "bytes / token": round(json_per_token + buffer_per_token, 2),
                "bytes / (token, feature)": round(buffer_per_token / pairs, 3),
                "json floats": f1 + f2,
                "pairs / token": f"{pairs} ({k} top-k + {c2} exact columns)" if c2 else str(pairs),
                "json bytes / token (token text)": round(json_per_token, 2),
                "constant bytes": int((j1 + b1) - (json_per_token + buffer_per_token) * t1),
            })
    return rows


def run(subject, *, quick: bool = False) -> Result:
    scope = subject.scope
    lengths = (32, 128) if subject.tiny else (128, 512)
    rows = measure_buffers(scope, lengths)
    notes = [
        "bytes / token = (payload at the longer text - payload at the shorter) / (difference in tokens); "
        "payload = compact JSON of the non-binary part + the binary buffers, split as ipywidgets does.",
        "the token strings themselves (the heatmap's text) are not in top_k_buffers; the widget rows count them as "
        "JSON bytes per token. For the widgets, bytes / (token, feature) = binary bytes per token / pairs sent per "
        "token (top-k pairs at 8 B + exact float32 columns of the listed features at 4 B).",
    ]
    classes, why = widget_classes()
    if classes is None:
        notes.append(f"widget synced state: pending widgets (scope_widgets.widgets does not import yet: {why})")
    else:
        rows += measure_widgets(scope, classes, lengths)
    for r in rows:
        log(f"  [3] {r['what']} k={r['k']}: {r['bytes / token']} B/token, {r['bytes / (token, feature)']} B/pair, "
            f"{r['json floats']} JSON floats")
    ok = all(r["bytes / (token, feature)"] <= TARGET and r["json floats"] == 0 for r in rows)
    widget_rows = [r for r in rows if not r["what"].startswith("widgets.wire.top_k_buffers")]
    status = STATUS_OK if ok else STATUS_MISSED
    buf = [r for r in rows if r["what"].startswith("widgets.wire.top_k_buffers")]
    headline = (f"top_k_buffers: {min(r['bytes / (token, feature)'] for r in buf):.2f}-"
                f"{max(r['bytes / (token, feature)'] for r in buf):.2f} B per (token, feature), "
                f"{sum(r['json floats'] for r in buf)} JSON floats")
    if widget_rows:
        names = ", ".join(dict.fromkeys(r["what"].split()[0] for r in widget_rows))
        headline += (f"; widget state ({names}): {min(r['bytes / (token, feature)'] for r in widget_rows):.2f}-"
                     f"{max(r['bytes / (token, feature)'] for r in widget_rows):.2f} B per (token, feature) in binary, "
                     f"{max(r['json bytes / token (token text)'] for r in widget_rows):.1f} B/token of JSON token text, "
                     f"{sum(r['json floats'] for r in widget_rows)} JSON floats")
    else:
        headline += "; widget state: pending widgets"
    columns = []
    for r in rows:
        for key in r:
            if key not in columns:
                columns.append(key)
    return Result(id="3", title="Bytes to the browser", target=f"<= {TARGET:g} bytes per (token, feature), no JSON floats",
                  status=status, headline=headline, columns=columns, rows=rows, notes=notes,
                  config={"lengths": list(lengths), "ks": list(KS)})
