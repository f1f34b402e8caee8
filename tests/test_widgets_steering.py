"""The kernel side of steering: worker thread, streaming into traits, cancellation, caching, errors.

A fake scope streams canned pieces with small delays, so these run in about a second, no model.
"""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest

from scope_widgets.widgets import Explorer, SteeringPanel
from scope_widgets.widgets._steering import effective_steer


class FakeStream:
    def __init__(self, pieces, delay, fail_at=None):
        self.pieces = pieces
        self.delay = delay
        self.fail_at = fail_at
        self.cancelled = False
        self.started = threading.Event()
        self.finished = threading.Event()

    def cancel(self):
        self.cancelled = True

    def __iter__(self):
        self.started.set()
        try:
            for i, piece in enumerate(self.pieces):
                if self.cancelled:
                    return
                time.sleep(self.delay)
                if self.fail_at == i:
                    raise RuntimeError("the model fell over")
                yield piece
        finally:
            self.finished.set()


class FakeScope:
    """``stream`` checks its arguments at once (as the engine does) and streams canned text."""

    d_sae = 100

    def __init__(self, delay=0.0, n_pieces=4, fail_at=None):
        self.delay = delay
        self.n_pieces = n_pieces
        self.fail_at = fail_at
        self.calls: list[dict] = []
        self.streams: list[FakeStream] = []
        self.lock = threading.Lock()

    def stream(self, prompt, steer=None, method="add", max_new_tokens=40, temperature=0.0, seed=None, positions="all",
               repetition_penalty=1.1):
        for f in steer or {}:
            if not 0 <= f < self.d_sae:
                raise ValueError(f"unknown feature {f}: the SAE has features 0 to {self.d_sae - 1}")
        tag = "base" if not steer else "+".join(f"{f}x{c:g}" for f, c in sorted(steer.items()))
        pieces = [f" {tag}:{i}" for i in range(min(self.n_pieces, max_new_tokens))]
        s = FakeStream(pieces, self.delay, self.fail_at if steer else None)
        with self.lock:
            self.calls.append(dict(prompt=prompt, steer=steer, method=method, max_new_tokens=max_new_tokens,
                                   temperature=temperature, seed=seed, positions=positions,
                                   repetition_penalty=repetition_penalty))
            self.streams.append(s)
        return s

    def baseline_calls(self):
        return [c for c in self.calls if not c["steer"]]

    def steered_calls(self):
        return [c for c in self.calls if c["steer"]]


def wait_for(pred, timeout=5.0):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if pred():
            return True
        time.sleep(0.005)
    return pred()


def panel(scope, **kw):
    kw.setdefault("auto_generate", False)
    return SteeringPanel(scope, "Once upon a time", features=[1, 2], **kw)


def test_streaming_updates_the_steered_text_trait():
    scope = FakeScope(delay=0.04, n_pieces=5)
    p = panel(scope)
    seen = []
    p.observe(lambda ch: seen.append(ch["new"]), names="steered_text")
    p.coefficients = {1: 4.0, 2: 0.0}
    assert p.wait(10)
    full = "".join(f" 1x4:{i}" for i in range(5))
    assert p.steered_text == full
    assert p.baseline_text == "".join(f" base:{i}" for i in range(5))
    partial = [s for s in seen if s and s != full]
    assert len(partial) >= 2, f"expected intermediate updates while streaming, saw {seen}"
    assert all(full.startswith(s) for s in seen)
    assert p.status_kind == "done" and p.status.startswith("done in")
    assert "first steered token after" in p.status
    assert p.generating == ""
    assert set(p.timing) >= {"first_token_s", "total_s"}


def test_request_returns_at_once_and_work_runs_off_the_calling_thread():
    scope = FakeScope(delay=0.03, n_pieces=8)
    p = panel(scope)
    main = threading.get_ident()
    threads = []
    p.observe(lambda ch: threads.append(threading.get_ident()), names="steered_text")
    t0 = time.perf_counter()
    p.coefficients = {1: 3.0}
    assert time.perf_counter() - t0 < 0.05  # the kernel's message loop is free again at once
    assert p.wait(10)
    assert threads and main not in threads


def test_a_newer_coefficient_cancels_the_stale_generation():
    scope = FakeScope(delay=0.02, n_pieces=100)
    p = panel(scope)
    p.coefficients = {1: 2.0}
    assert wait_for(lambda: len(scope.steered_calls()) == 1 and scope.streams[-1].started.is_set())
    stale = scope.streams[-1]
    p.coefficients = {1: 5.0}  # as the browser sends it after the debounce
    assert wait_for(stale.finished.is_set, 2.0)
    assert stale.cancelled, "the stale generation was not cancelled"
    scope.delay = 0.0
    assert p.wait(10)
    assert p.steered_text.startswith(" 1x5:0") and "1x2" not in p.steered_text
    assert len(scope.baseline_calls()) == 1, "the baseline is cached: only the steered side regenerates"
    assert p.status_kind == "done"


def test_never_two_generations_at_once():
    scope = FakeScope(delay=0.01, n_pieces=30)
    p = panel(scope)
    for c in range(1, 8):
        p.coefficients = {1: float(c)}
        time.sleep(0.005)
    assert p.wait(10)
    # each stream finished before the next one started
    for a, b in zip(scope.streams, scope.streams[1:]):
        assert a.finished.is_set()
    assert p.steered_text.startswith(" 1x7:0")


def test_baseline_is_cached_per_prompt_and_settings():
    scope = FakeScope()
    p = panel(scope)
    p.coefficients = {1: 1.0}
    p.wait(5)
    p.coefficients = {1: 2.0}
    p.wait(5)
    p.method = "clamp"
    p.wait(5)
    assert len(scope.baseline_calls()) == 1
    p.max_new_tokens = 3
    p.wait(5)
    assert len(scope.baseline_calls()) == 2
    assert scope.calls[-1]["max_new_tokens"] == 3 and scope.calls[-1]["method"] == "clamp"
    p.prompt = "In a galaxy"
    p.wait(5)
    assert len(scope.baseline_calls()) == 3 and scope.calls[-1]["prompt"] == "In a galaxy"


def test_the_repetition_penalty_reaches_both_sides_and_a_new_one_regenerates_the_baseline():
    scope = FakeScope()
    p = panel(scope)
    assert p.repetition_penalty == 1.1
    p.coefficients = {1: 1.0}
    p.wait(5)
    assert [c["repetition_penalty"] for c in scope.calls] == [1.1, 1.1]
    p.repetition_penalty = 1.0
    p.wait(5)
    assert len(scope.baseline_calls()) == 2 and [c["repetition_penalty"] for c in scope.calls[2:]] == [1.0, 1.0]
    with pytest.raises(Exception, match="repetition_penalty"):
        p.repetition_penalty = 0.5
    assert p.repetition_penalty == 1.0
    assert SteeringPanel(scope, "Hi", features=[1], auto_generate=False, repetition_penalty=1.3).repetition_penalty == 1.3


def test_zero_coefficients_give_the_baseline_without_a_steered_run():
    scope = FakeScope()
    p = panel(scope)
    p.generate(wait=True)
    assert scope.steered_calls() == []
    assert p.steered_text == p.baseline_text != ""
    assert "no active steering" in p.status


def test_same_settings_do_not_regenerate_but_force_does():
    scope = FakeScope()
    p = panel(scope)
    p._handle_custom_msg({"type": "generate", "force": False}, [])
    p.wait(5)
    p._handle_custom_msg({"type": "generate", "force": False}, [])  # a second view displayed
    p.wait(5)
    assert len(scope.calls) == 1
    p.coefficients = {1: 0.0, 2: 0.0, 3: 0.0}  # adding a slider at 0 changes nothing that is sent
    p.wait(5)
    assert len(scope.calls) == 1
    p._handle_custom_msg({"type": "generate", "force": True}, [])
    p.wait(5)
    assert len(scope.calls) == 1  # greedy baseline: the cache answers


def test_sampling_uses_one_seed_for_both_sides():
    scope = FakeScope()
    p = panel(scope, temperature=0.8)
    p.coefficients = {1: 2.0}
    p.wait(5)
    base, steered = scope.calls[0], scope.calls[1]
    assert base["seed"] is not None and base["seed"] == steered["seed"]
    assert base["temperature"] == 0.8
    p._handle_custom_msg({"type": "generate", "force": True}, [])
    p.wait(5)
    assert len(scope.baseline_calls()) == 2  # a fresh sample was asked for


def test_errors_land_in_the_status_trait():
    scope = FakeScope()
    p = panel(scope)
    p.coefficients = {999: 1.0}
    assert p.wait(5)
    assert p.status_kind == "error"
    assert p.status == "error: ValueError: unknown feature 999: the SAE has features 0 to 99"
    assert p.generating == ""
    # an error in the middle of the stream
    scope.fail_at = 1
    p.coefficients = {1: 1.0}
    assert p.wait(5)
    assert p.status_kind == "error" and "the model fell over" in p.status
    # and the next good request recovers
    scope.fail_at = None
    p.coefficients = {1: 2.0}
    assert p.wait(5)
    assert p.status_kind == "done"


def test_stop_cancels():
    scope = FakeScope(delay=0.02, n_pieces=200)
    p = panel(scope)
    p.coefficients = {1: 2.0}
    assert wait_for(lambda: p.status_kind == "running")
    p._handle_custom_msg({"type": "stop"}, [])
    assert p.wait(5)
    assert scope.streams[-1].cancelled
    assert p.status_kind == "cancelled" and p.status == "stopped"


def test_ablate_uses_every_listed_feature():
    assert effective_steer({1: 0.0, 2: 3.0}, "add") == {2: 3.0}
    assert effective_steer({1: 0.0, 2: 3.0}, "clamp") == {2: 3.0}
    assert effective_steer({1: 0.0, 2: 3.0}, "ablate") == {1: 0.0, 2: 0.0}
    scope = FakeScope()
    p = panel(scope, method="ablate")
    p.generate(wait=True)
    assert scope.steered_calls()[-1]["steer"] == {1: 0.0, 2: 0.0}
    assert scope.steered_calls()[-1]["method"] == "ablate"


def test_browser_round_trip_of_the_steering_traits():
    scope = FakeScope()
    p = panel(scope)
    p.set_state({"coefficients": {"1": 2.5, "2": 0}, "method": "clamp", "max_new_tokens": 12, "temperature": 0.5, "seed": 7})
    assert p.coefficients == {1: 2.5, 2: 0.0} and p.method == "clamp"
    assert (p.max_new_tokens, p.temperature, p.seed) == (12, 0.5, 7)
    p.wait(5)
    state = p.get_state()
    assert state["coefficients"] == {"1": 2.5, "2": 0.0}
    assert state["steered_text"] == p.steered_text and state["baseline_text"] == p.baseline_text
    p.add_feature(5)
    assert p.features == [1, 2, 5]
    p.remove_feature(1)
    assert p.features == [2, 5]
    p.wait(5)


def test_explorer_steering_trait_drives_generation():
    class Acts:
        tokens = ["<bos>", " a", " b"]
        has_bos = True
        sae = None
        top_ids = np.array([[1], [2], [3]], dtype=np.int32)
        top_values = np.array([[5.0], [1.0], [2.0]], dtype=np.float32)

        def top(self, k=10):
            return [(3, 2.0), (2, 1.0)][:k]

        def features(self, ids):
            return np.zeros((len(ids), 3), np.float32)

        def feature(self, i):
            return np.zeros(3, np.float32)


    scope = FakeScope()
    scope.features = lambda text, k=32: Acts()
    ex = Explorer(scope, "a b")
    assert scope.calls == []  # nothing generates until asked
    ex.set_state({"steering": {"3": 4.0}})
    assert ex.wait(5)
    assert ex.steering == {3: 4.0}
    assert scope.calls[-1]["prompt"] == "a b" and scope.calls[-1]["steer"] == {3: 4.0}
    assert ex.steered_text.startswith(" 3x4:0") and ex.baseline_text.startswith(" base:0")


@pytest.mark.parametrize("bad", [{"type": "generate"}, {"type": "stop"}])
def test_messages_before_anything_ran_are_harmless(bad):
    p = panel(FakeScope())
    p._handle_custom_msg(bad, [])
    assert p.wait(5)


def test_a_panel_steers_with_concept_directions_and_positions():
    """A direction from scope.direction gets a negative id, a label, a slider range, and steers."""
    import torch

    from scope_widgets import SAE, Scope
    from scope_widgets.widgets._steering import nice_ceil, slider_limit
    from tiny_models import tiny_gemma

    model, tok = tiny_gemma()
    scope = Scope(model, tok, SAE.random(model.config.hidden_size, 32, layer=1, threshold=0.05))
    d = scope.direction(examples=["cats and kittens"], against=["a table", "the chair"])
    p = SteeringPanel(scope, "Once", features=[3, d], max_new_tokens=6, auto_generate=False)
    assert p.coefficients == {3: 0.0, -1: 0.0} and p.labels["-1"].startswith("direction:")
    assert wait_for(lambda: "-1" in p.feature_max)
    assert p.feature_max["-1"] == pytest.approx(scope.steering_scale(None))
    assert slider_limit(scope, None) == nice_ceil(3 * scope.steering_scale(None))
    p.coefficients = {3: 0.0, -1: 40 * d.scale}
    assert p.wait(60)
    assert p.steered_text and p.steered_text != p.baseline_text, p.status
    with pytest.raises(Exception):
        p.coefficients = {-2: 1.0}  # no such direction in this panel
    p.positions = "prompt"
    assert p.wait(60) and p.status_kind == "done", p.status
    with pytest.raises(Exception):
        p.positions = "everywhere"
    assert torch.isfinite(d.vector).all()


def test_nice_ceil_matches_the_front_end_table():
    from scope_widgets.widgets._steering import nice_ceil

    # the same cases as js/__tests__/steering.test.ts ("niceCeil")
    assert [nice_ceil(x) for x in (0.0, 0.7, 1.0, 1.2, 2.2, 3.0, 7.0, 12.0, 260.0)] == [1, 1, 1, 2, 2.5, 5, 10, 20, 500]
