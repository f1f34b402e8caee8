"""Progress on long work (issue 10, point 7): tqdm.auto bars that show only when the work lasts, never from a
widget's worker thread, and batching that checks its batch size."""

from __future__ import annotations

import threading
import time

import pytest
import torch
from tiny_models import tiny_gemma

from scope_widgets import runtime
from scope_widgets.features import text_maxima
from scope_widgets.runtime import in_batches, progress_bar
from scope_widgets.saes import SAE


def test_in_batches_keeps_order_and_chunk_sizes():
    chunks = []

    def fn(chunk):
        chunks.append(list(chunk))
        return [x * 10 for x in chunk]

    assert in_batches(fn, range(7), 3, desc="numbers", show=False) == [0, 10, 20, 30, 40, 50, 60]
    assert chunks == [[0, 1, 2], [3, 4, 5], [6]]
    assert in_batches(fn, [], 3, desc="nothing", show=False) == []


@pytest.mark.parametrize("bad", [0, -1, 2.5, "8", True, None])
def test_in_batches_refuses_a_bad_batch_size(bad):
    with pytest.raises(ValueError, match="batch_size must be a positive integer"):
        in_batches(list, [1, 2], bad, desc="x")


def test_short_work_prints_nothing_and_long_work_shows_a_bar(capsys, monkeypatch):
    in_batches(list, range(10), 2, desc="quick work")
    assert "quick work" not in capsys.readouterr().err
    monkeypatch.setattr(runtime, "PROGRESS_DELAY_S", 0.05)

    def slow(chunk):
        time.sleep(0.06)
        return chunk

    in_batches(slow, range(4), 1, desc="slow work")
    err = capsys.readouterr().err
    assert "slow work" in err and "4/4" in err
    in_batches(list, range(3), 1, desc="asked for", show=True)
    assert "asked for" in capsys.readouterr().err


def test_no_bar_from_a_worker_thread_unless_asked():
    bars = {}

    def work():
        bars["auto"], bars["asked"] = progress_bar(3, "auto"), progress_bar(3, "asked", show=True)

    t = threading.Thread(target=work)
    t.start()
    t.join()
    assert bars["auto"].disable and not bars["asked"].disable
    main = progress_bar(3, "main")
    assert not main.disable and main.delay == runtime.PROGRESS_DELAY_S
    for bar in (*bars.values(), main):
        bar.close()


def test_an_interrupt_closes_the_bar():
    from tqdm.auto import tqdm

    def interrupted(chunk):
        raise KeyboardInterrupt

    before = len(tqdm._instances)
    with pytest.raises(KeyboardInterrupt):
        in_batches(interrupted, range(4), 2, desc="interrupted", show=True)
    assert len(tqdm._instances) == before


def test_text_maxima_shows_progress_on_long_runs(capsys, monkeypatch):
    model, tok = tiny_gemma(layers=2)
    sae = SAE.random(32, 64, layer=1)
    monkeypatch.setattr(runtime, "PROGRESS_DELAY_S", 0.0)
    out = text_maxima(model, tok, sae, [f"text number {i}" for i in range(5)], 32, batch_size=2)
    assert out.shape == (5, 64) and out.dtype == torch.float32
    assert "feature maxima" in capsys.readouterr().err


def test_dashboards_show_progress_in_the_main_thread_only(capsys, monkeypatch):
    """A widget's worker computing dashboards must not print into whichever cell is running."""
    from scope_widgets.analysis.corpus_pass import compute_dashboards

    model, tok = tiny_gemma(layers=2)
    sae = SAE.random(32, 64, layer=1)
    texts = [f"some text {i}" for i in range(6)]
    monkeypatch.setattr(runtime, "PROGRESS_DELAY_S", 0.0)
    worker = threading.Thread(target=compute_dashboards, args=(model, tok, sae, texts), kwargs={"batch_size": 2})
    worker.start()
    worker.join()
    assert "dashboards" not in capsys.readouterr().err
    compute_dashboards(model, tok, sae, texts, batch_size=2)
    err = capsys.readouterr().err
    assert "dashboards random" in err and "6/6" in err and "logit effects" in err
