"""Run every benchmark and write the table.

    python -m benchmarks                 # all, on the embedded model: several minutes on 2 cores
    python -m benchmarks --only 1,3      # a subset (ids 1-8)
    python -m benchmarks --quick         # fewer lengths, rounds and generations
    python -m benchmarks --tiny          # a tiny random model, seconds (what the smoke test runs)

Writes ``benchmarks/results/<date>.md`` and ``.json`` and refreshes the generated block of
``docs/benchmarks.md`` (not with ``--tiny``, ``--no-docs`` or ``--only``, unless ``--docs`` is given).
Exit status 0 whatever the results: a missed target is a finding, not a crash.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ALL = ("1", "2", "3", "4", "5", "6", "7", "8")


def run(only=ALL, *, tiny: bool = False, quick: bool = False, threads: int | None = None,
        out_dir: Path | None = None, docs: bool = True, memory_in_process: bool = False,
        command: str = "python -m benchmarks") -> dict:
    from benchmarks import attribution, features, frontend, generation, gpu, memory, payload, report
    from benchmarks.common import (STATUS_PENDING, STATUS_SKIPPED, Result, default_subject, log, machine_info,
                                   set_threads, tiny_subject)

    set_threads(threads)
    machine = machine_info()
    machine["command"] = command
    needs_model = any(i in only for i in ("1", "2", "3", "4", "5", "8")) or ("6" in only and memory_in_process)
    subject = None
    if needs_model:
        start = time.perf_counter()
        subject = tiny_subject() if tiny else default_subject("cpu")
        log(f"subject: {subject.description} (loaded in {time.perf_counter() - start:.1f} s)")
        machine["subject"] = subject.description
    steps = {
        "1": lambda: features.run(subject, quick=quick),
        "2": lambda: generation.run(subject, quick=quick),
        "3": lambda: payload.run(subject, quick=quick),
        "4": lambda: frontend.run_recolour(subject, quick=quick),
        "5": lambda: frontend.run_round_trip(subject, quick=quick),
        "6": lambda: memory.run(subject, quick=quick, tiny=tiny, in_process=memory_in_process),
        "7": lambda: gpu.run(None, quick=quick, tiny=tiny),
        "8": lambda: attribution.run(subject, quick=quick),
    }
    results: list[Result] = []
    for bench_id in ALL:
        if bench_id not in only:
            continue
        start = time.perf_counter()
        log(f"[{bench_id}] running")
        try:
            result = steps[bench_id]()
        except Exception as err:  # one broken benchmark must not hide the others' results
            import traceback

            traceback.print_exc()
            result = Result(id=bench_id, title=f"benchmark {bench_id}", target="", status="ERROR",
                            headline=f"{type(err).__name__}: {err}")
        result.config["seconds"] = round(time.perf_counter() - start, 1)
        if tiny and result.status not in ("ERROR", STATUS_PENDING, STATUS_SKIPPED):
            result.status = f"smoke only ({result.status} on a tiny model means nothing)"
        log(f"[{bench_id}] {result.status}: {result.headline} ({result.config['seconds']} s)")
        results.append(result)
    written = report.write(machine, results, out_dir=out_dir, docs=report.DOCS if docs else None)
    for kind, path in written.items():
        log(f"wrote {kind}: {path}")
    return {"machine": machine, "results": results, "written": written}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", default=",".join(ALL), help="comma-separated benchmark ids (default: all)")
    parser.add_argument("--tiny", action="store_true", help="a tiny random model: checks the scripts in seconds")
    parser.add_argument("--quick", action="store_true", help="fewer lengths, rounds and generations")
    parser.add_argument("--threads", type=int, default=None,
                        help="torch CPU threads (default: 1 on machines of <= 2 cores, else torch's default)")
    parser.add_argument("--out", type=Path, default=None, help="results folder (default benchmarks/results)")
    docs = parser.add_mutually_exclusive_group()
    docs.add_argument("--docs", action="store_true", help="refresh docs/benchmarks.md even with --tiny/--only")
    docs.add_argument("--no-docs", action="store_true", help="leave docs/benchmarks.md alone")
    args = parser.parse_args(argv)
    only = tuple(s.strip() for s in args.only.split(",") if s.strip())
    unknown = [s for s in only if s not in ALL]
    if unknown:
        parser.error(f"unknown benchmark ids {unknown}; use {', '.join(ALL)}")
    partial = args.tiny or set(only) != set(ALL)
    update_docs = args.docs or (not args.no_docs and not partial)
    argv = sys.argv[1:] if argv is None else list(argv)
    run(only, tiny=args.tiny, quick=args.quick, threads=args.threads, out_dir=args.out, docs=update_docs,
        command=" ".join(["python -m benchmarks", *argv]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
