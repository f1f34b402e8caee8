"""Every benchmark runs on a tiny random model in seconds, so the scripts can't rot.

These check that each benchmark runs end to end and reports sensibly shaped results; the figures on
a tiny model mean nothing (except sizes: the payload benchmark's bytes are exact at any size).
The real run is ``python -m benchmarks`` (see docs/benchmarks.md).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # `benchmarks` lives at the repository root, beside the package
    sys.path.insert(0, str(ROOT))

from benchmarks import attribution, features, frontend, generation, gpu, load, memory, payload, report  # noqa: E402
from benchmarks.common import (  # noqa: E402
    STATUS_MISSED,
    STATUS_OK,
    STATUS_PENDING,
    STATUS_SKIPPED,
    Result,
    interleaved,
    text_with_tokens,
    tiny_subject,
    truncated,
)

MEASURED = (STATUS_OK, STATUS_MISSED)


@pytest.fixture(scope="module")
def subject():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # as the runner does on small machines; restored below
    try:
        yield tiny_subject()
    finally:
        torch.set_num_threads(threads)


def test_text_with_tokens_is_exact(subject):
    tok = subject.scope.tokenizer
    for n in (32, 128):
        assert len(tok(text_with_tokens(tok, n))["input_ids"]) == n


def test_interleaved_pairs_rounds_and_limits_references():
    calls = []
    times = interleaved({"a": lambda: calls.append("a"), "b": lambda: calls.append("b"),
                         "ref": lambda: calls.append("ref")}, repeats=4, limit_rounds={"ref": 1})
    assert len(times.wall["a"]) == len(times.cpu["b"]) == 4 and len(times.wall["ref"]) == 1
    assert calls.count("ref") == 1  # no warm-up for a limited reference
    assert times.ratio("a", "b") > 0 and times.rounds == 4


def test_floor_is_the_truncated_model_and_restores_it(subject):
    model = subject.scope.model
    stack, norm = model.model.layers, model.model.norm
    ids = torch.tensor([[2, 10, 11, 12]])
    with truncated(model, 1) as base:
        assert len(base.layers) == 2
        x = base(input_ids=ids, use_cache=False).last_hidden_state
    assert model.model.layers is stack and model.model.norm is norm
    captured = {}
    handle = stack[1].register_forward_hook(lambda m, a, out: captured.setdefault("h", out[0] if isinstance(out, tuple) else out))
    try:
        with torch.no_grad():
            model(input_ids=ids)
    finally:
        handle.remove()
    torch.testing.assert_close(x, captured["h"])  # the floor computes exactly layer 1's output


def test_features_benchmark(subject):
    result = features.run(subject)
    assert result.status in MEASURED and len(result.rows) == len(features.TINY_LENGTHS)
    raw = result.config["raw"]
    assert all(r["features_s"] > 0 and r["floor_s"] > 0 and r["full_s"] > 0 and r["vs_floor"] > 0 for r in raw)


def test_attribution_benchmark(subject):
    result = attribution.run(subject)
    assert result.status in MEASURED
    raw = result.config["raw"]
    assert [r["tokens"] for r in raw["cost"]] == [32, 128] and all(r["ratio"] > 0 for r in raw["cost"])
    faith = raw["faithfulness"]["this model"]
    assert faith["n_pairs"] > 0 and len(faith["per_prompt"]) == len(attribution.TINY_PROMPTS)


def test_generation_benchmark(subject):
    result = generation.run(subject)
    assert result.status in MEASURED
    contenders = result.config["raw"]["contenders"]
    assert set(contenders) == {"plain", "add", "clamp", "unsteered", "stream add"}
    assert all(c["tokens"] > 0 and c["tokens_per_s"] > 0 for c in contenders.values())


def test_payload_benchmark_sizes_are_exact(subject):
    result = payload.run(subject)
    buffers = [r for r in result.rows if r["what"].startswith("widgets.wire.top_k_buffers")]
    assert [r["k"] for r in buffers] == list(payload.KS)
    assert all(r["bytes / (token, feature)"] == 8.0 and r["json floats"] == 0 for r in buffers)
    assert payload.count_json_floats({"a": [1, 2.5, {"b": 3.0}], "c": True}) == 2


@pytest.mark.browser
def test_recolour_benchmark(subject):
    result = frontend.run_recolour(subject)
    if result.status == STATUS_PENDING:
        pytest.skip(result.headline)
    assert result.status in MEASURED, result.headline
    assert [r["tokens"] for r in result.rows] == [100, 500]
    for row in result.config["raw"]:
        assert row["recolour (exact column)"] > 0 and row["to the frame"] > 0 and row["rebuild (new tokens)"] > 0
    assert frontend.RECOLOUR_LENGTHS == (500, 2000, 8000, 32000)
    # the targets (2,000 and 8,000 tokens) decide the status; a run that measured neither is no pass
    assert not frontend.recolour_targets_met(result.config["raw"])
    fast = [{"tokens": n, "recolour (exact column)": 1.0} for n in frontend.RECOLOUR_LENGTHS]
    assert frontend.recolour_targets_met(fast)
    assert not frontend.recolour_targets_met([dict(r, **{"recolour (exact column)": 9.0}) for r in fast])


def test_round_trip_benchmark(subject):
    result = frontend.run_round_trip(subject)
    if result.status == STATUS_PENDING:
        pytest.skip(result.headline)
    assert result.status in MEASURED, result.headline
    raw = result.config["raw"]
    assert raw["panel_s"] > 0 and raw["model_s"] > 0 and len(raw["samples"]["panel"]) == 3


def test_memory_benchmark_in_process(subject):
    result = memory.run(subject, in_process=True)
    assert result.status in MEASURED
    raw = result.config["raw"]
    assert raw["generations"] == 6 and raw["analyses"] == 30 and raw["baseline"]["rss"] > 0
    assert raw["final"]["rss"] > 0 and "rss" in raw["growth"]


def test_gpu_script_tiny_on_cpu(capsys):
    assert gpu.main(["--tiny", "--device", "cpu", "--json", "-"]) == 0
    out = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert out["id"] == "7" and out["status"] in MEASURED
    figures = {row["figure"] for row in out["rows"]}
    assert figures == {"1", "2", "memory"}


def test_gpu_script_skips_cleanly_without_cuda():
    if torch.cuda.is_available():
        pytest.skip("CUDA is here: the skip path is not taken")
    result = gpu.run()
    assert result.status == STATUS_SKIPPED and "CUDA" in result.headline


def test_gpu_configs_match_gemma_3():
    one, four = gpu.MODELS["1b"], gpu.MODELS["4b"]
    assert (one["hidden_size"], one["num_hidden_layers"], one["num_attention_heads"], one["num_key_value_heads"],
            one["head_dim"], one["intermediate_size"], one["vocab_size"], one["sliding_window"]) == \
        (1152, 26, 4, 1, 256, 6912, 262144, 512)
    assert (four["hidden_size"], four["num_hidden_layers"], four["num_attention_heads"], four["num_key_value_heads"],
            four["head_dim"], four["intermediate_size"]) == (2560, 34, 8, 4, 256, 10240)
    assert one["layer_types"][5] == "full_attention" and one["layer_types"][4] == "sliding_attention"


def test_load_benchmark_times_fresh_processes_side_by_side(monkeypatch):
    """The whole script, with trivial bodies in place of the real loads (those take 4 to 6 s each)."""
    monkeypatch.setattr(load, "BODIES", {"Scope.load()": "import json  # {folder}", "floor": "x = 1",
                                         "import torch": "import torch"})
    result = load.run(rounds=2, folder="/not/used")
    assert [r["contender"] for r in result["rows"]] == ["Scope.load()", "floor", "import torch"]
    assert all(r["median s"] >= 0 for r in result["rows"]) and result["rows"][1]["/ floor"] == 1.0
    assert result["met"] and result["rounds"] == 2
    with pytest.raises(RuntimeError, match="timed process failed"):
        load.time_in_fresh_process("raise SystemExit(3)")


def test_report_writes_markdown_json_and_docs_block(tmp_path):
    machine = {"date": "2026-01-01 00:00 UTC", "cpu": "test cpu", "cores": 2}
    results = [Result(id="1", title="t", target="x", status=STATUS_OK, headline="h", columns=["a"], rows=[{"a": "1|2"}])]
    docs = tmp_path / "benchmarks.md"
    docs.write_text(f"# Benchmarks\n\nprose\n\n{report.START}\nold\n{report.END}\n\nafter\n")
    written = report.write(machine, results, out_dir=tmp_path / "results", docs=docs)
    assert json.loads(written["json"].read_text())["results"][0]["status"] == STATUS_OK
    text = docs.read_text()
    assert "prose" in text and "after" in text and "old" not in text and "1\\|2" in text


def test_runner_cli_tiny(tmp_path):
    """The one command, end to end on the tiny model (the memory benchmark in its own process)."""
    proc = subprocess.run([sys.executable, "-m", "benchmarks", "--tiny", "--only", "3,6", "--out", str(tmp_path)],
                          cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    files = sorted(p.suffix for p in tmp_path.iterdir())
    assert files == [".json", ".md"]
    data = json.loads(next(tmp_path.glob("*.json")).read_text())
    assert [r["id"] for r in data["results"]] == ["3", "6"]
    assert all(r["status"] != "ERROR" for r in data["results"]), data["results"]
