"""Publishing traits from worker threads: ``ScopeWidget.hold_sync`` sends a held block as one message and
never drops a change another thread makes meanwhile."""

from __future__ import annotations

import threading

import traitlets

from scope_widgets.widgets._base import ScopeWidget


class Probe(ScopeWidget):
    a = traitlets.Int(0).tag(sync=True)
    b = traitlets.Int(0).tag(sync=True)
    c = traitlets.Int(0).tag(sync=True)


def recording(widget) -> list[set]:
    messages: list[set] = []

    def record(key=None):
        messages.append({key} if isinstance(key, str) else set(key or ()))

    widget.send_state = record
    return messages


def test_a_held_block_is_one_message_and_nested_blocks_join_it():
    w = Probe()
    messages = recording(w)
    with w.hold_sync():
        w.a = 1
        with w.hold_sync():
            w.b = 2
        assert messages == []
    assert messages == [{"a", "b"}]
    w.c = 3
    assert messages[-1] == {"c"}


def test_changes_from_another_thread_during_a_hold_are_sent_not_lost():
    w = Probe()
    messages = recording(w)
    inside, release = threading.Event(), threading.Event()

    def worker():
        with w.hold_sync():
            w.a = 1
            inside.set()
            release.wait(5)

    t = threading.Thread(target=worker)
    t.start()
    inside.wait(5)
    w.c = 7  # the main thread, while the worker holds: deferred to the worker's flush
    release.set()
    t.join()
    assert messages == [{"a", "c"}]
    last = {}
    for i in range(200):  # and under contention every final value goes out
        th = threading.Thread(target=lambda i=i: setattr(w, "b", i))
        th.start()
        with w.hold_sync():
            w.a = i
        th.join()
        last = {k for m in messages for k in m}
    assert {"a", "b", "c"} <= last and not w._holding_sync and not w._states_to_send
