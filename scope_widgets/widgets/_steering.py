"""The kernel side of steering: generation in a worker thread, streamed into traits, cancellable.

A ``SteeringController`` serves one widget (``SteeringPanel`` or ``Explorer``). Every change of the
coefficients or the settings calls ``request()``, which returns at once: it cancels the running
generation (``GenerationStream.cancel()``) and starts a new job in a thread that first waits for the
old one to end, so two generations never run together. The job streams the baseline (unless cached
for this prompt and settings) and then the steered text into the widget's traits, piece by piece,
with a status line; errors land in ``status`` (``status_kind="error"``), never only in a log.
"""

from __future__ import annotations

import atexit
import json
import logging
import math
import random
import threading
import time
import weakref
from typing import Any

import numpy as np
import traitlets

from ..steering import DEFAULT_POSITIONS, MAX_REPETITION_PENALTY, METHODS, POSITIONS, REPETITION_PENALTY

log = logging.getLogger("scope_widgets.widgets")

_ORDER = {"status": 1, "generating": 2, "status_kind": 3}
PUSH_INTERVAL = 0.03  # seconds between trait updates while streaming (about 30 per second)


def nice_ceil(x: float) -> float:
    """Round up to 1, 2, 2.5 or 5 times a power of ten (``niceCeil`` in js/steering.ts: the same table)."""
    if not x > 0:
        return 1.0
    p = 10.0 ** math.floor(math.log10(x))
    for m in (1, 2, 2.5, 5, 10):
        if m * p >= x * (1 - 1e-9):
            return m * p
    return 10 * p


def slider_limit(scope: Any, feature: int | None) -> float:
    """The steering slider's default bound for a feature (or, with None, a concept direction):
    ``nice_ceil(3 * scope.steering_scale(feature))``, as ``sliderRange`` in js/steering.ts computes it."""
    return nice_ceil(3 * float(scope.steering_scale(feature)))


def effective_steer(coefficients: dict, method: str) -> dict[int, float]:
    """What is sent to the engine: for ``add`` and ``clamp`` the non-zero coefficients (a slider at 0
    is off); for ``ablate`` every listed feature (its coefficient is ignored)."""
    if method == "ablate":
        return {int(f): 0.0 for f in coefficients}
    return {int(f): float(c) for f, c in coefficients.items() if c != 0}


def chat_messages(turns: list[dict], side: str) -> list[dict]:
    """The conversation as one side saw it: earlier replies are ``{"role": "assistant", "baseline": ...,
    "steered": ...}`` turns, and each side continues from its own."""
    return [{"role": t["role"], "content": t[side] if t["role"] == "assistant" else t["content"]} for t in turns]


def token_traits(side: str, tokens: list) -> dict:
    """``<side>_probs`` (float32 bytes) and ``<side>_pieces`` for ``(text, probability)`` pairs, probabilities first:
    the browser draws tokens only once the pieces add up to the text, which is set after them."""
    probs = np.asarray([p for _, p in tokens], dtype="<f4")
    return {f"{side}_probs": probs.tobytes(), f"{side}_pieces": [t for t, _ in tokens]}


_CONTROLLERS: "weakref.WeakSet[SteeringController]" = weakref.WeakSet()


@atexit.register
def _stop_all() -> None:
    """At interpreter exit, stop generations still running (their threads would be killed mid-step)."""
    for controller in list(_CONTROLLERS):
        try:
            controller.stop()
            controller.wait(2.0)
        except Exception:  # the comm may already be gone
            pass


class SteeringController:
    """Runs the generations of one widget. The widget has the traits ``prompt``, ``method``,
    ``max_new_tokens``, ``temperature``, ``seed``, ``repetition_penalty``, ``baseline_text``, ``steered_text``,
    ``status``, ``status_kind``, ``generating`` and the coefficient dict named by ``coef_trait``."""

    def __init__(self, widget: Any, scope: Any, coef_trait: str) -> None:
        self.widget = widget
        self.scope = scope
        self.coef_trait = coef_trait
        self._lock = threading.RLock()
        self._job = 0
        self._thread: threading.Thread | None = None
        self._stream: Any = None
        self._last: tuple | None = None
        self._baselines: dict[tuple, tuple[str, int | None, list]] = {}
        self.last_timing: dict[str, float] = {}
        self._last_tokens: list[tuple[str, float]] = []  # the (text, probability) pairs of the side just generated
        _CONTROLLERS.add(self)

    # ------------------------------------------------------------------ requests (any thread)
    def params(self) -> dict:
        w = self.widget
        chat = [dict(t) for t in getattr(w, "chat", None) or []]
        return {
            "prompt": w.prompt,
            "chat": chat,
            "steer_template": bool(getattr(w, "steer_template", False)),
            "steer": effective_steer(getattr(w, self.coef_trait), w.method),
            "method": w.method,
            "max_new_tokens": int(w.max_new_tokens),
            "temperature": float(w.temperature),
            "seed": w.seed,
            "positions": getattr(w, "positions", "all"),
            "repetition_penalty": float(getattr(w, "repetition_penalty", REPETITION_PENALTY)),
        }

    @staticmethod
    def _key(p: dict) -> tuple:
        return (p["prompt"], json.dumps(p["chat"]), p["steer_template"], tuple(sorted(p["steer"].items())), p["method"],
                p["max_new_tokens"], p["temperature"], p["seed"], p["positions"], p["repetition_penalty"])

    def request(self, force: bool = False) -> bool:
        """Start generating for the widget's current settings (cancelling stale work). Without
        ``force``, settings equal to the last request's start nothing. Returns whether a job started."""
        p = self.params()
        key = self._key(p)
        with self._lock:
            if not force and key == self._last:
                return False
            self._last = key
            self._job += 1
            job = self._job
            if self._stream is not None:
                self._stream.cancel()
            prev = self._thread
            thread = threading.Thread(target=self._run, args=(job, prev, p, force), name="scope-widgets-steering", daemon=True)
            self._thread = thread
        thread.start()
        return True

    def stop(self) -> None:
        """Cancel the running generation, if any."""
        with self._lock:
            running = self._thread is not None and self._thread.is_alive()
            self._job += 1
            self._last = None  # the same settings may be asked for again
            if self._stream is not None:
                self._stream.cancel()
            job = self._job
        if running:
            self._set(job, status="stopped", status_kind="cancelled", generating="")

    def wait(self, timeout: float | None = 60) -> bool:
        """Block until the current job ends (tests and scripts). True when it did."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            with self._lock:
                thread = self._thread
            if thread is None:
                return True
            thread.join(None if deadline is None else max(0.0, deadline - time.monotonic()))
            if thread.is_alive():
                return False
            with self._lock:
                if self._thread is thread:
                    return True

    @property
    def busy(self) -> bool:
        with self._lock:
            return self._thread is not None and self._thread.is_alive()

    # ------------------------------------------------------------------ the job (worker thread)
    def _stale(self, job: int) -> bool:
        return job != self._job

    def _set(self, job: int, **traits: Any) -> bool:
        """Set traits, unless a newer job has started. (No ``hold_sync`` here: it is not thread-safe,
        and a change made meanwhile on the kernel's main thread could be lost on its way out.)"""
        with self._lock:
            if self._stale(job):
                return False
            # text before status before status_kind: the browser announces a finished run once, complete
            for name in sorted(traits, key=lambda n: _ORDER.get(n, 0)):
                setattr(self.widget, name, traits[name])
            return True

    def _run(self, job: int, prev: threading.Thread | None, p: dict, force: bool) -> None:
        if prev is not None:
            prev.join()
        if self._stale(job):
            return
        t0 = time.perf_counter()
        try:
            self._generate(job, p, force, t0)
        except Exception as err:
            log.debug("steering job failed", exc_info=True)
            self._set(job, status=f"error: {type(err).__name__}: {err}", status_kind="error", generating="")

    def _generate(self, job: int, p: dict, force: bool, t0: float) -> None:
        self.last_timing = {}
        base_key = (p["prompt"], json.dumps(chat_messages(p["chat"], "baseline")), p["max_new_tokens"], p["temperature"], p["seed"],
                    p["repetition_penalty"])
        sampling = p["temperature"] > 0
        cached = self._baselines.get(base_key)
        if cached is not None and force and sampling and p["seed"] is None:
            cached = None  # a fresh sample was asked for
        if cached is None:
            # one seed for both sides, so the difference is the steering, not the dice
            seed = p["seed"] if p["seed"] is not None or not sampling else random.randrange(2**31)
            baseline = self._consume(job, p, None, seed, "baseline")
            if baseline is None:
                return
            self._baselines[base_key] = (baseline, seed, list(self._last_tokens))
        else:
            baseline, seed, tokens = cached
            if not self._set(job, **token_traits("baseline", tokens), baseline_text=baseline):
                return
        if not p["steer"]:
            total = time.perf_counter() - t0
            self.last_timing = {"total_s": total}
            tokens = self._baselines.get(base_key, (None, None, []))[2]
            self._set(job, **token_traits("steered", tokens), steered_text=baseline, generating="", status_kind="done",
                      status=f"done in {total:.1f} s · no active steering (every coefficient is 0): steered = baseline")
            return
        t_steer = time.perf_counter()
        steered = self._consume(job, p, p["steer"], seed, "steered")
        if steered is None:
            return
        total = time.perf_counter() - t0
        first = self.last_timing.get("first_token_s")
        self.last_timing["total_s"] = total
        self.last_timing["steered_s"] = time.perf_counter() - t_steer
        first_text = f" · first steered token after {first:.2f} s" if first is not None else ""
        self._set(job, generating="", status_kind="done", status=f"done in {total:.1f} s{first_text}")

    def _consume(self, job: int, p: dict, steer: dict | None, seed: int | None, side: str) -> str | None:
        """Stream one side into ``<side>_text``; None when the job went stale (or was stopped)."""
        trait = f"{side}_text"
        self._last_tokens = []
        if not self._set(job, **token_traits(side, []), **{trait: ""}, generating=side, status_kind="running",
                         status=f"generating {side}…"):
            return None
        t0 = time.perf_counter()
        kwargs = dict(method=p["method"], max_new_tokens=p["max_new_tokens"], temperature=p["temperature"], seed=seed)
        if p["repetition_penalty"] != REPETITION_PENALTY:  # the scope's default otherwise (fakes need not know it)
            kwargs["repetition_penalty"] = p["repetition_penalty"]
        if steer:  # the baseline keeps the scope's defaults, so fakes and old scopes need not know positions
            kwargs["positions"] = p["positions"]
            steer = self.widget.steer_targets(steer)
            if p["chat"]:
                kwargs["steer_template"] = p["steer_template"]
        prompt = chat_messages(p["chat"], side) if p["chat"] else p["prompt"]  # each side continues its own chat
        stream_fn = getattr(self.scope, "stream", None)
        if not callable(stream_fn):  # a scope without streaming: one piece
            pieces: Any = [self.scope.generate(prompt, steer=steer, **kwargs)]
        else:
            pieces = stream_fn(prompt, steer=steer, **kwargs)
        with self._lock:
            if self._stale(job):
                getattr(pieces, "cancel", lambda: None)()
                return None
            self._stream = pieces if hasattr(pieces, "cancel") else None
        text, n, last_push, first = "", 0, 0.0, None
        try:
            for piece in pieces:
                if self._stale(job):
                    getattr(pieces, "cancel", lambda: None)()
                    return None
                text += piece
                n += 1
                now = time.perf_counter()
                if first is None:
                    first = now - t0
                    if side == "steered":
                        self.last_timing["first_token_s"] = first
                if now - last_push >= PUSH_INTERVAL:
                    last_push = now
                    tokens = list(getattr(pieces, "tokens", []))
                    if not self._set(job, **token_traits(side, tokens), **{trait: text}, status=f"generating {side}… {n} tokens"):
                        getattr(pieces, "cancel", lambda: None)()
                        return None
        finally:
            with self._lock:
                if self._stream is pieces:
                    self._stream = None
        if self._stale(job):
            return None
        self._last_tokens = list(getattr(pieces, "tokens", []))
        self._set(job, **token_traits(side, self._last_tokens), **{trait: text}, status=f"{side} done: {n} tokens")
        return text


def _pairs(pieces: list[str], probs: bytes) -> list[tuple[str, float]]:
    values = np.frombuffer(probs, dtype="<f4")
    return [(t, float(p)) for t, p in zip(pieces, values)]


class SteeringTraits(traitlets.HasTraits):
    """The synced state of a steering view; generation is run by a ``SteeringController``."""

    prompt = traitlets.Unicode("").tag(sync=True)
    method = traitlets.Enum(METHODS, "add").tag(sync=True)
    max_new_tokens = traitlets.Int(40, min=1).tag(sync=True)
    temperature = traitlets.Float(0.0, min=0.0).tag(sync=True)
    seed = traitlets.Int(None, allow_none=True).tag(sync=True)
    repetition_penalty = traitlets.Float(REPETITION_PENALTY, min=1.0, max=MAX_REPETITION_PENALTY).tag(sync=True)  # 1.0: none
    baseline_text = traitlets.Unicode("").tag(sync=True)
    steered_text = traitlets.Unicode("").tag(sync=True)
    status = traitlets.Unicode("").tag(sync=True)
    status_kind = traitlets.Enum(("idle", "running", "done", "error", "cancelled"), "idle").tag(sync=True)
    generating = traitlets.Unicode("").tag(sync=True)  # "baseline" | "steered" | ""
    auto_generate = traitlets.Bool(False).tag(sync=True)  # the browser asks for a baseline on display
    positions = traitlets.Enum(POSITIONS, DEFAULT_POSITIONS).tag(sync=True)  # where steering acts
    # a chat instead of a prompt: the turns so far (see chat_messages); the template's tokens unsteered unless asked
    chat = traitlets.List(traitlets.Dict()).tag(sync=True)
    steer_template = traitlets.Bool(False).tag(sync=True)
    # each generated token of each side: its text (they add up to the side's text) and probability (float32)
    baseline_pieces = traitlets.List(traitlets.Unicode()).tag(sync=True)
    baseline_probs = traitlets.Bytes(b"").tag(sync=True)
    steered_pieces = traitlets.List(traitlets.Unicode()).tag(sync=True)
    steered_probs = traitlets.Bytes(b"").tag(sync=True)

    @property
    def baseline_tokens(self) -> list[tuple[str, float]]:
        """The baseline's tokens as ``(text, probability)`` pairs (the probability the model gave each)."""
        return _pairs(self.baseline_pieces, self.baseline_probs)

    @property
    def steered_tokens(self) -> list[tuple[str, float]]:
        """The steered generation's tokens as ``(text, probability)`` pairs, under the steering."""
        return _pairs(self.steered_pieces, self.steered_probs)

    def steer_targets(self, steer: dict) -> dict:
        """The engine's ``steer`` for the coefficients: feature ids as they are (panels with concept
        directions map their negative ids to the directions)."""
        return steer

    _controller: SteeringController | None = None

    def _init_steering(self, scope: Any, coef_trait: str) -> None:
        self._controller = SteeringController(self, scope, coef_trait)
        self.observe(self._on_steering_change,
                     names=[coef_trait, "method", "max_new_tokens", "temperature", "seed", "prompt", "positions", "chat",
                            "steer_template", "repetition_penalty"])

    def _on_steering_change(self, _change: dict) -> None:
        assert self._controller is not None
        self._controller.request()

    def _msg_generate(self, content: dict, _buffers: list) -> None:
        assert self._controller is not None
        self._controller.request(force=bool(content.get("force")))

    def _msg_stop(self, _content: dict, _buffers: list) -> None:
        assert self._controller is not None
        self._controller.stop()

    def generate(self, wait: bool = False, timeout: float | None = 120) -> None:
        """Generate baseline (unless cached) and steered text now; ``wait=True`` blocks until done."""
        assert self._controller is not None
        self._controller.request(force=True)
        if wait:
            self.wait(timeout)

    def stop(self) -> None:
        """Cancel the running generation."""
        assert self._controller is not None
        self._controller.stop()

    def wait(self, timeout: float | None = 120) -> bool:
        """Block until the running generation ends (scripts and tests; a notebook need not)."""
        assert self._controller is not None
        return self._controller.wait(timeout)

    @property
    def timing(self) -> dict:
        """Seconds of the last generation: ``first_token_s`` (steered), ``steered_s``, ``total_s``."""
        return dict(self._controller.last_timing) if self._controller else {}
