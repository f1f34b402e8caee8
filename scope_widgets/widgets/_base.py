"""The anywidget base shared by every view: one front-end bundle, a `view` trait, message dispatch.

The bundle (``scope_widgets/static/widget.js``, built from ``js/`` by ``npm run build``) serves every
widget class; the browser picks the view from the ``view`` trait. Custom messages from the browser
are dicts with a ``type``; ``{"type": "x", ...}`` goes to the method ``_msg_x(content, buffers)``.
"""

from __future__ import annotations

import atexit
import logging
import threading
import weakref
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Callable

import anywidget
import traitlets

log = logging.getLogger("scope_widgets.widgets")

BUNDLE = Path(__file__).parent.parent / "static" / "widget.js"

# Shown instead of the widget when the package was installed without its front end.
_MISSING_BUNDLE_ESM = """
export function render({ el }) {
  const box = document.createElement("div");
  box.style.cssText = "padding:8px;border:1px solid #c62828;color:#c62828;font-family:sans-serif";
  box.textContent = "scope_widgets: the front-end bundle (scope_widgets/static/widget.js) is missing. "
    + "Build it with `npm install && npm run build` in the source tree, or reinstall the package.";
  el.appendChild(box);
}
export default { render };
"""


def bundle_esm() -> Path | str:
    """The bundle's path when built, else a small module that says it is missing."""
    return BUNDLE if BUNDLE.is_file() else _MISSING_BUNDLE_ESM


_SYNC_LOCK = threading.RLock()


class ScopeWidget(anywidget.AnyWidget):
    """Base of every scope_widgets widget."""

    _esm = bundle_esm()
    view = traitlets.Unicode("").tag(sync=True)

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.on_msg(self._dispatch_msg)

    # ipywidgets' hold_sync is not thread-safe: a trait set on another thread between its flush and its
    # clear() is dropped. Here the flag, the pending keys and each send decision change under one short lock
    # (never held while traits are set, so observers cannot deadlock on it), and the keys are taken before
    # they are sent: a worker thread may publish several traits as one message with ``hold_sync``.
    @contextmanager
    def hold_sync(self):
        with _SYNC_LOCK:
            outer = not self._holding_sync
            self._holding_sync = True
        if not outer:  # nested, or held by another thread: that block's end sends these too
            yield
            return
        try:
            yield
        finally:
            with _SYNC_LOCK:
                keys = set(self._states_to_send)
                self._states_to_send.clear()
                self._holding_sync = False
            if keys:
                self.send_state(keys)

    def _should_send_property(self, key, value):
        with _SYNC_LOCK:
            return super()._should_send_property(key, value)

    def _dispatch_msg(self, _widget: Any, content: Any, buffers: list) -> None:
        if not isinstance(content, dict) or not isinstance(content.get("type"), str):
            return
        handler = getattr(self, f"_msg_{content['type']}", None)
        if handler is None:
            log.debug("%s: no handler for message %r", type(self).__name__, content.get("type"))
            return
        try:
            handler(content, buffers)
        except Exception as err:  # a bad message must not kill the comm
            log.exception("%s: message %r failed", type(self).__name__, content.get("type"))
            self.send({"type": "error", "about": content.get("type"), "error": f"{type(err).__name__}: {err}"})

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


class LatestWorker:
    """One daemon thread that runs ``fn(arg)`` for the newest submitted ``arg`` only.

    Requests that arrive while one runs replace each other: after a burst of clicks only the last
    is computed, and never two at once (the machine may have two cores for everything).
    """

    _all: "weakref.WeakSet[LatestWorker]" = weakref.WeakSet()

    def __init__(self, fn: Callable[[Any], None], name: str) -> None:
        LatestWorker._all.add(self)
        self._fn = fn
        self._name = name
        self._cond = threading.Condition()
        self._pending: list = []  # zero or one item: [arg]
        self._busy = False
        self._thread: threading.Thread | None = None

    def submit(self, arg: Any) -> None:
        with self._cond:
            self._pending[:] = [arg]
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._loop, name=self._name, daemon=True)
                self._thread.start()
            self._cond.notify()

    def _loop(self) -> None:
        while True:
            with self._cond:
                if not self._pending:
                    self._busy = False
                    self._cond.notify_all()
                    self._thread = None
                    return
                arg = self._pending.pop()
                self._busy = True
            try:
                self._fn(arg)
            except Exception:  # the fn reports its own errors; never let the thread die silently
                log.exception("%s failed", self._name)

    def wait(self, timeout: float | None = None) -> bool:
        """Block until nothing is pending or running (for tests and scripts). True when idle."""
        with self._cond:
            return self._cond.wait_for(lambda: not self._pending and not self._busy and self._thread is None, timeout)

    def drop_pending(self) -> None:
        with self._cond:
            self._pending.clear()


_THREADS: "weakref.WeakSet[threading.Thread]" = weakref.WeakSet()


def background(fn: Callable[[], None], name: str) -> threading.Thread:
    """Run ``fn`` in a daemon thread that interpreter exit waits for (see ``_finish_workers``)."""
    thread = threading.Thread(target=fn, name=name, daemon=True)
    _THREADS.add(thread)
    thread.start()
    return thread


@atexit.register
def _finish_workers(timeout: float = 30.0) -> None:
    """At interpreter exit, drop queued work and let running work finish (30 s at most in all): a daemon
    thread killed in the middle of a torch call aborts the process ("terminate called without an active
    exception", exit status 134)."""
    import time

    deadline = time.monotonic() + timeout
    workers = list(LatestWorker._all)
    for w in workers:
        w.drop_pending()
    for w in workers:
        w.wait(max(0.0, deadline - time.monotonic()))
    for t in list(_THREADS):
        t.join(max(0.0, deadline - time.monotonic()))
