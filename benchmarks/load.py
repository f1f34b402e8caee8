"""How long a warm ``Scope.load()`` takes in a fresh process, against what any loader has to do.

Warm: the float copy of the embedded model is already in the cache (the first load ever also
dequantises the GGUF, about 30 s, once). Each contender runs in its own fresh Python process, timed
from before its first import to the end of its last step; the contenders run interleaved, one each per
round in an order rotated every round, after an untimed warm-up round (the page cache then holds the
weights for all of them). Medians over rounds, and per-round ratios against the floor.

- ``Scope.load()``: ``import scope_widgets; scope_widgets.Scope.load(device="cpu")``, what a notebook does;
- ``floor``: import torch and transformers, ``AutoModelForCausalLM.from_pretrained`` on the cached folder
  and ``tokenizers.Tokenizer.from_file`` on its tokenizer.json: the least any loader of this model does;
- ``with AutoTokenizer``: the model as ``floor`` does it and the tokenizer through ``AutoTokenizer`` (what
  ``load_model`` does for a hub model, and what ``Scope.load()`` did before 2026-12-03);
- ``import torch``: the interpreter and torch alone, for scale.

    python -m benchmarks.load               # 7 rounds, about 2 minutes on 2 cores
    python -m benchmarks.load --rounds 3 --json out.json

Target (issue 14): a warm load within 3 s on a quiet machine.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TARGET_S = 3.0

_TIMED = """
import time
t0 = time.perf_counter()
{body}
print("SECONDS", time.perf_counter() - t0)
"""

BODIES = {
    "Scope.load()": "import scope_widgets\nscope_widgets.Scope.load(device='cpu')",
    "floor": (
        "import torch, tokenizers\nfrom transformers import AutoModelForCausalLM\n"
        "AutoModelForCausalLM.from_pretrained({folder!r}, dtype=torch.float32).eval()\n"
        "tokenizers.Tokenizer.from_file({folder!r} + '/tokenizer.json')"
    ),
    "with AutoTokenizer": (
        "import torch\nfrom transformers import AutoModelForCausalLM, AutoTokenizer\n"
        "AutoModelForCausalLM.from_pretrained({folder!r}, dtype=torch.float32).eval()\n"
        "AutoTokenizer.from_pretrained({folder!r})"
    ),
    "import torch": "import torch",
}


def time_in_fresh_process(body: str) -> float:
    """Seconds the body took in a new interpreter, as that interpreter measured them."""
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_VERBOSITY": "error", "TQDM_DISABLE": "1"}
    done = subprocess.run([sys.executable, "-c", _TIMED.format(body=body)], cwd=ROOT, env=env,
                          capture_output=True, text=True, check=False)
    lines = [line for line in done.stdout.splitlines() if line.startswith("SECONDS ")]
    if done.returncode != 0 or not lines:
        raise RuntimeError(f"the timed process failed (exit {done.returncode}):\n{done.stderr[-2000:]}")
    return float(lines[-1].split()[1])


def run(rounds: int = 7, folder: str | None = None) -> dict:
    from benchmarks.common import median, rotated, spread
    from scope_widgets.engine.models import default_model_dir

    folder = str(folder or default_model_dir())  # builds the cache first if need be: loads after it are warm
    bodies = {name: body.format(folder=folder) for name, body in BODIES.items()}
    names = list(bodies)
    for name in names:  # warm-up round: the page cache, .pyc files
        time_in_fresh_process(bodies[name])
    times: dict[str, list[float]] = {name: [] for name in names}
    for r in range(rounds):
        for name in rotated(names, r):
            times[name].append(time_in_fresh_process(bodies[name]))
        print(f"round {r + 1}/{rounds}: " + ", ".join(f"{n} {times[n][-1]:.2f} s" for n in names), file=sys.stderr)
    rows = [{"contender": name, "median s": round(median(times[name]), 2), "spread": round(spread(times[name]), 3),
             "/ floor": round(median([a / b for a, b in zip(times[name], times["floor"])]), 2)} for name in names]
    load = median(times["Scope.load()"])
    return {"rows": rows, "rounds": rounds, "target_s": TARGET_S, "scope_load_s": round(load, 2),
            "met": load <= TARGET_S, "load_average": os.getloadavg(), "date": time.strftime("%Y-%m-%d")}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.load", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args(argv)
    if args.rounds < 1:
        parser.error("--rounds must be at least 1")
    result = run(args.rounds)
    print(f"| contender | median s | spread | / floor |\n|---|---|---|---|")
    for r in result["rows"]:
        print(f"| {r['contender']} | {r['median s']:.2f} | {r['spread']:.3f} | {r['/ floor']:.2f}x |")
    print(f"\nwarm Scope.load(): {result['scope_load_s']:.2f} s (target <= {TARGET_S:g} s: "
          f"{'met' if result['met'] else 'missed'}); load average at the end {result['load_average']}")
    if args.json:
        args.json.write_text(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
