"""Which feature to steer with: three rules for picking one feature per concept, each judged by the
default SAE benchmark's steering test.

    python -m benchmarks.steer_selection                    # data/eval/steering_concepts.json: 14 concepts
                                                            # never used to tune anything, ~15 min on 2 cores
    python -m benchmarks.steer_selection --suite concepts   # the 27 of data/eval/concepts.json, ~31 min
    python -m benchmarks.steer_selection --json out.json

The rules:

- ``reading``: ``scope.search(word)``'s top feature;
- ``trial`` (what ``scope.search(word, steer=True)`` did before): search's eight best readers tried in
  greedy continuations of a few neutral openings, the one that turned most of them to the concept first;
- ``output`` (what ``scope.search(word, steer=True)`` does now, ``analysis/steerable.py``): of search's
  ``STEER_POOL`` best readers (24; 48 when the docs' table was measured), the one that makes the concept's words likeliest as the next token when added (at 1 or 1.5
  times its steering scale) to neutral text: the trial openings followed by the unsteered model's own
  continuations, read teacher-forced, every position after the opening. The concept's words are the word
  and its 16 nearest embedding neighbours, as whole-word tokens after a space (capitalised too). This is
  the "output score" of Arad, Mueller and Belinkov (2025), who found that features chosen by it steer better
  than features chosen by how they read.

Each pick is judged by :func:`benchmarks.default_sae.steer_concept`: method ``add`` at every position, at
0.1, 0.2, 0.3 and 0.5 of the slider's bound, greedy, 25 new tokens, after the benchmark's 3 neutral prompts;
success when one coefficient makes 2 of the 3 mention the concept in fluent, non-looping text.
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import torch

from benchmarks.default_sae import DATA, FRACTIONS, log, steer_concept
from scope_widgets.analysis.steerable import STEER_CANDIDATES


def trial_pick(scope, word: str, hits) -> int:
    """The rule ``search(word, steer=True)`` used before it ranked by writing: search's eight best readers
    (``hits``) tried in greedy continuations, the one that turned most trial openings first."""
    from scope_widgets.analysis.search import steering_scale
    from scope_widgets.analysis.steerable import concept_words, embedding_neighbours, rank_by_steering

    scales = {h.feature: steering_scale(scope.model, scope.tokenizer, scope.sae, h.feature) for h in hits}
    stems = concept_words(word, embedding_neighbours(scope.model, scope.tokenizer, word))
    return rank_by_steering(scope.model, scope.tokenizer, scope.sae, hits, stems, scales)[0].feature


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(prog="python -m benchmarks.steer_selection", description=__doc__.splitlines()[0])
    ap.add_argument("--suite", choices=("steering_concepts", "concepts"), default="steering_concepts")
    ap.add_argument("--json", default=None)
    ap.add_argument("--threads", type=int, default=0)
    args = ap.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    import scope_widgets as sw

    t0 = time.time()
    scope = sw.Scope.load(device="cpu")
    concepts = json.loads((DATA / f"{args.suite}.json").read_text())["concepts"]
    prompts = json.loads((DATA / "steering_prompts.json").read_text())["prompts"][:3]
    rows = []
    for c in concepts:
        hits = scope.search(c["word"], k=5, steer=True)
        readers = scope.search(c["word"], k=STEER_CANDIDATES)  # one plain search serves the first two rules
        picks = {"reading": readers[0].feature, "trial": trial_pick(scope, c["word"], readers), "output": hits[0].feature}
        judged: dict[int, bool] = {}
        for f in dict.fromkeys(picks.values()):
            judged[f] = steer_concept(scope, c, prompts, f, None, "all", FRACTIONS)["feature"]["success"]
        row = {"concept": c["name"], **{f"{rule}_feature": f for rule, f in picks.items()},
               **{rule: judged[f] for rule, f in picks.items()},
               "writes": {str(h.feature): round(h.writes, 4) for h in hits},
               "writes_unsteered": round(hits[0].extra["writes_unsteered"], 4)}
        rows.append(row)
        log(f"  {c['name']}: " + ", ".join(f"{rule} #{f} {'steers' if judged[f] else 'no'}" for rule, f in picks.items()))
    report = {"suite": args.suite, "n": len(rows), "seconds": round(time.time() - t0, 1), "per_concept": rows,
              "successes": {rule: sum(r[rule] for r in rows) for rule in ("reading", "trial", "output")}}
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=1))
    print(f"# steering picks on {args.suite} ({len(rows)} concepts): "
          + ", ".join(f"{rule} {n}/{len(rows)}" for rule, n in report["successes"].items()))
    return report


if __name__ == "__main__":
    main()
