"""Share a view: ``save_html(path, *widgets)`` writes one self-contained HTML file that opens offline.

The file holds the front-end bundle itself (no CDN, no network), each widget's synced state (binary traits
as base64), and the dashboards of the features a reader is likely to click (those listed by the widget),
so a click on a token or a feature still works from the saved state. What needs the kernel (steering,
attribution reruns, labels, editing) shows a clear "needs the running kernel" message instead of breaking.
The page's script (``js/saved.ts``, in the bundle) plays the kernel's part from the saved state.
"""

from __future__ import annotations

import base64
import datetime as _dt
import html
import json
from pathlib import Path
from typing import Any

from ..runtime import atomic_write_text
from ._base import BUNDLE, ScopeWidget
from ._dashboard import dashboard_state

__all__ = ["save_html", "saved_state"]

MAX_DASHBOARDS = 24  # dashboards saved per widget: the features its lists show first
_DASHBOARD_VIEWS = ("explorer", "dashboard", "attribution", "compare")


def _jsonable(value: Any) -> Any:
    """Bytes become ``{"__b64__": ...}`` (the page turns them back into DataViews), recursively."""
    if isinstance(value, (bytes, bytearray, memoryview)):
        return {"__b64__": base64.b64encode(bytes(value)).decode("ascii")}
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    return value


def _listed(widget: ScopeWidget) -> list[int]:
    """The features a reader of this widget is likely to click: its lists, first things first."""
    ids: list[int] = []
    for name in ("selected_feature", "feature"):
        v = getattr(widget, name, None)
        if isinstance(v, int):
            ids.append(v)
    for name in ("column_ids", "attr_feature_ids", "diff_ids", "a_column_ids", "b_column_ids"):
        ids.extend(int(i) for i in getattr(widget, name, []) or [])
    return list(dict.fromkeys(ids))


def saved_state(widget: ScopeWidget, max_dashboards: int = MAX_DASHBOARDS) -> dict:
    """``{"state": ..., "dashboards": {id: {"dashboard", "values"}}}`` of one widget, JSON-ready."""
    if not isinstance(widget, ScopeWidget):
        raise TypeError(f"save_html takes scope_widgets widgets (Explorer, Compare, ...), not {type(widget).__name__}")
    state = {name: value for name, value in widget.get_state().items()  # as the browser would get it
             if not name.startswith("_") and not (isinstance(value, str) and value.startswith("IPY_MODEL_"))}
    saved: dict = {"state": _jsonable(state), "dashboards": {}}
    scope = getattr(widget, "scope", None) or getattr(widget, "_scope", None)
    if widget.view in _DASHBOARD_VIEWS and scope is not None and max_dashboards > 0:
        for fid in _listed(widget)[:max_dashboards]:
            dash, values = dashboard_state(scope, fid)
            if dash.get("status") == "ok":
                saved["dashboards"][str(fid)] = {"dashboard": _jsonable(dash), "values": _jsonable(values)}
    return saved


_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 16px; color: #212121; background: #fff; }}
.sw-saved-note {{ font-size: 13px; color: #5f5f5f; margin: 0 0 12px; }}
.sw-saved-widget {{ margin-bottom: 24px; }}
</style></head>
<body>
<p class="sw-saved-note">{note}</p>
{containers}
<script type="text/plain" id="sw-bundle">{bundle}</script>
<script type="application/json" id="sw-widgets">{widgets}</script>
<script type="module">
const source = document.getElementById("sw-bundle").textContent;
const url = URL.createObjectURL(new Blob([source], {{ type: "text/javascript" }}));
const widget = (await import(url)).default;
const saved = JSON.parse(document.getElementById("sw-widgets").textContent);
saved.forEach((w, i) => widget.mountSaved(document.getElementById("sw-widget-" + i), w));
document.body.setAttribute("data-sw-ready", String(saved.length));
</script>
</body></html>
"""


def _script_json(value: Any) -> str:
    """JSON safe inside a <script> element: every "<" escaped, so nothing can close or comment it out."""
    return json.dumps(value, separators=(",", ":")).replace("<", "\\u003c")


def _script_js(source: str) -> str:
    """The bundle inside a <script> element; it must not contain what would end the element early."""
    if "</" in source or "<!--" in source:
        raise ValueError("the front-end bundle contains '</' or '<!--' and cannot be inlined; rebuild it")
    return source


def save_html(path, *widgets: ScopeWidget, title: str = "scope_widgets", max_dashboards: int = MAX_DASHBOARDS) -> Path:
    """Write ``widgets`` into one HTML file at ``path`` that opens offline, with no kernel and no network.

    Tokens, features and the saved dashboards respond to clicks; steering, attribution reruns, labels and
    editing say that they need the running kernel. Returns the path written."""
    if not widgets:
        raise ValueError("save_html(path, *widgets) needs at least one widget to save")
    if not BUNDLE.is_file():
        raise FileNotFoundError(f"the front-end bundle {BUNDLE} is missing: build it with `npm run build` (or reinstall)")
    saved = [saved_state(w, max_dashboards) for w in widgets]
    path = Path(path)
    if path.suffix.lower() not in (".html", ".htm"):
        raise ValueError(f"save_html writes an .html file, not {path.name!r}")
    stamp = _dt.datetime.now().strftime("%Y-%m-%d %H:%M")
    note = (f"Saved from scope_widgets on {stamp}. Tokens, features and saved dashboards respond to clicks; "
            "steering, attribution, labels and editing need the running kernel.")
    page = _PAGE.format(
        title=html.escape(title),
        note=html.escape(note),
        containers="\n".join(f'<div class="sw-saved-widget" id="sw-widget-{i}"></div>' for i in range(len(saved))),
        bundle=_script_js(BUNDLE.read_text(encoding="utf-8")),
        widgets=_script_json(saved),
    )
    atomic_write_text(path, page)
    return path
