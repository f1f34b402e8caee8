"""Benchmark 6: resident memory over a session.

200 analyses (``scope.features``) of different texts and 50 steered generations (add and clamp in
turn, different features), interleaved one generation after every few analyses, as a user exploring
would. Each result replaces the previous one (as ``acts = scope.features(...)`` in a notebook does).
RSS (psutil; on Linux also split into heap and file-backed pages) is read after the first 10
operations (the baseline: caches, allocator pools, lazy imports and the memory-mapped weights are warm
by then) and at the end, after ``gc.collect()``. Runs in a fresh process by default so earlier
benchmarks' allocations don't hide growth.
Target: growth after the first 10 < 50 MB.

    python -m benchmarks.memory [--tiny] [--json PATH]
"""

from __future__ import annotations

import argparse
import ctypes
import gc
import json
import subprocess
import sys
import time
from pathlib import Path

from scope_widgets.widgets.wire import top_k_buffers

from benchmarks.common import REPO_ROOT, STATUS_MISSED, STATUS_OK, Result, different_texts, log

TARGET_MB = 50.0


def memory_mb() -> dict[str, float]:
    """Resident memory now: ``rss`` (psutil) and, on Linux, its ``anon`` (heap: what a leak grows) and
    ``file`` parts (file-backed pages: the model's memory-mapped safetensors weights, paged in as first used)."""
    out: dict[str, float] = {}
    try:
        import psutil  # comes with ipykernel; /proc below is the fallback

        out["rss"] = psutil.Process().memory_info().rss / 2**20
    except ImportError:
        pass
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmRSS:") and "rss" not in out:
                out["rss"] = int(line.split()[1]) / 1024
            elif line.startswith("RssAnon:"):
                out["anon"] = int(line.split()[1]) / 1024
            elif line.startswith("RssFile:"):
                out["file"] = int(line.split()[1]) / 1024
    except OSError:
        pass
    return out


def malloc_trim() -> bool:
    """Give freed heap back to the OS (glibc only); used for a second, informational reading."""
    try:
        return bool(ctypes.CDLL("libc.so.6").malloc_trim(0))
    except (OSError, AttributeError):
        return False


def measure(scope, *, analyses: int = 200, generations: int = 50, text_tokens: int = 64, new_tokens: int = 8,
            warm: int = 10) -> dict:
    """A session of ``analyses + generations`` operations, one steered generation every few analyses
    (add and clamp in turn, a different feature each time); memory read after the first ``warm``
    operations (the baseline) and every 25 after, each time after ``gc.collect()``."""
    texts = different_texts(scope.tokenizer, analyses, text_tokens)
    d_sae = scope.sae.d_sae
    features = [(97 * i + 13) % d_sae for i in range(generations)]
    total = analyses + generations
    every = max(1, round(total / max(1, generations)))  # every `every`-th operation is a generation
    ops = []
    a = g = 0
    for i in range(total):
        if g < generations and ((i + 1) % every == 0 or total - i <= generations - g):
            ops.append("g")
            g += 1
        elif a < analyses:
            ops.append("a")
            a += 1
        else:
            ops.append("g")
            g += 1
    gc.collect()
    trace = [{"after": "model loaded", "analyses": 0, "generations": 0, **memory_mb()}]
    acts = None
    done = {"a": 0, "g": 0}
    baseline = None
    start = time.perf_counter()
    for i, op in enumerate(ops):
        if op == "a":
            text = texts[done["a"]]
            acts = scope.features(text)
            top = acts.top(5)
            _ = acts.feature(top[0][0] if top else 0), top_k_buffers(acts, 16)
        else:
            j = done["g"]
            prompt = texts[(j * 3 + 1) % len(texts)][:80] or "Hello"
            scope.generate(prompt, steer={features[j]: 6.0}, method="add" if j % 2 == 0 else "clamp",
                           max_new_tokens=new_tokens)
        done[op] += 1
        if i + 1 == warm or (i + 1) % 25 == 0 or i + 1 == len(ops):
            gc.collect()
            point = {"after": f"{i + 1} operations", "analyses": done["a"], "generations": done["g"], **memory_mb()}
            trace.append(point)
            if i + 1 == warm:
                baseline = point
    del acts
    gc.collect()
    final = {"after": "end, gc.collect()", "analyses": done["a"], "generations": done["g"], **memory_mb()}
    trace.append(final)
    if malloc_trim():
        trace.append({"after": "malloc_trim(0) (informational)", "analyses": done["a"], "generations": done["g"],
                      **memory_mb()})
    growth = {k: final[k] - baseline[k] for k in ("rss", "anon", "file") if k in final and k in baseline}
    return {"analyses": done["a"], "generations": done["g"], "warm": warm, "baseline": baseline, "final": final,
            "growth": growth, "growth_mb": growth["rss"], "seconds": time.perf_counter() - start, "trace": trace,
            "text_tokens": text_tokens, "new_tokens": new_tokens, "every": every}


def result_of(m: dict, description: str) -> Result:
    status = STATUS_OK if m["growth_mb"] < TARGET_MB else STATUS_MISSED
    rows = []
    for t in m["trace"]:
        row = {"after": t["after"], "analyses": t["analyses"], "generations": t["generations"], "RSS": f"{t['rss']:.1f} MB"}
        if "anon" in t:
            row.update({"anonymous (heap)": f"{t['anon']:.1f} MB", "file-backed (mmapped weights)": f"{t['file']:.1f} MB"})
        rows.append(row)
    growth = m["growth"]
    split = (f"; heap {growth['anon']:+.1f} MB, file-backed {growth['file']:+.1f} MB" if "anon" in growth else "")
    loaded, base = m["trace"][0], m["baseline"]
    notes = [
        f"a session of {m['analyses']} analyses of different texts (~{m['text_tokens']} tokens) and {m['generations']} steered "
        f"generations ({m['new_tokens']} new tokens, add and clamp in turn, a new feature each time), one generation every "
        f"{m['every']} operations; the baseline is read after the first {m['warm']} operations; fresh process; "
        f"{m['seconds']:.0f} s in all.",
    ]
    if "file" in loaded:
        file_step, anon_step = base["file"] - loaded["file"], base["anon"] - loaded["anon"]
        notes.append(f"from load to the baseline: heap {anon_step:+.0f} MB, file-backed {file_step:+.0f} MB.")
        if file_step > 50:
            notes.append(
                "the file-backed step is the model's memory-mapped safetensors weights paging in: features stop at the "
                "SAE's layer, so the first generation is the first to read the later layers and the tied unembedding. "
                "A one-off (the pages are clean and reclaimable), which is why the baseline follows the first 10 "
                "operations, generations included, not the first 10 analyses alone.")
    notes.append(f"subject: {description}")
    return Result(
        id="6", title="Memory over a session", target=f"RSS growth after the first 10 operations < {TARGET_MB:g} MB",
        status=status,
        headline=(f"{m['growth_mb']:+.1f} MB RSS after {m['analyses']} analyses + {m['generations']} steered generations "
                  f"(RSS {base['rss']:.0f} -> {m['final']['rss']:.0f} MB{split})"),
        columns=list(rows[-1]) if rows else [], rows=rows, notes=notes,
        config={"raw": m},
    )


def run(subject=None, *, quick: bool = False, tiny: bool = False, in_process: bool = False) -> Result:
    """Run in a fresh Python process (default) or in this one (``in_process``, with ``subject``)."""
    if in_process:
        m = measure(subject.scope, **sizes(tiny or subject.tiny, quick))
        return result_of(m, subject.description)
    cmd = [sys.executable, "-m", "benchmarks.memory", "--json", "-"]
    if tiny or (subject is not None and subject.tiny):
        cmd.append("--tiny")
    if quick:
        cmd.append("--quick")
    proc = subprocess.run(cmd, cwd=REPO_ROOT, capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"the memory benchmark failed:\n{proc.stderr[-4000:]}")
    sys.stderr.write("".join(line + "\n" for line in proc.stderr.splitlines() if line.startswith("  [6]")))
    payload = json.loads(proc.stdout.strip().splitlines()[-1])
    return Result(**payload)


def sizes(tiny: bool, quick: bool) -> dict:
    if tiny:
        return {"analyses": 30, "generations": 6, "text_tokens": 24, "new_tokens": 4}
    if quick:
        return {"analyses": 100, "generations": 20, "text_tokens": 48, "new_tokens": 8}
    return {"analyses": 200, "generations": 50, "text_tokens": 64, "new_tokens": 8}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tiny", action="store_true", help="a tiny random model (seconds)")
    parser.add_argument("--quick", action="store_true", help="100 analyses and 20 generations")
    parser.add_argument("--json", default=None, help="write the result as JSON here ('-' for stdout)")
    parser.add_argument("--threads", type=int, default=None)
    args = parser.parse_args(argv)
    from benchmarks.common import default_subject, set_threads, tiny_subject

    set_threads(args.threads)
    subject = tiny_subject() if args.tiny else default_subject("cpu")
    m = measure(subject.scope, **sizes(args.tiny, args.quick))
    log(f"  [6] RSS {m['baseline']['rss']:.1f} -> {m['final']['rss']:.1f} MB: growth {m['growth_mb']:+.1f} MB "
        f"({', '.join(f'{k} {v:+.1f}' for k, v in m['growth'].items())}) in {m['seconds']:.0f} s")
    result = result_of(m, subject.description).to_dict()
    if args.json == "-":
        print(json.dumps(result))
    elif args.json:
        with open(args.json, "w") as f:
            json.dump(result, f, indent=2)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
