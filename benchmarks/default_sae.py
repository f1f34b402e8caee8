"""The default SAE measured as a class would meet it: reading everyday prose and code, finding concepts,
steering toward them. Everything here is held-out text the SAE never saw.

    python -m benchmarks.default_sae                    # the embedded default, ~15 min on 2 cores
    python -m benchmarks.default_sae --quick            # fewer concepts and coefficients
    python -m benchmarks.default_sae --json out.json

Measured (BOS excluded everywhere):

1. **Reading**: fraction of loss recovered (the reconstruction spliced in at every non-BOS position vs the
   mean activation of the same texts), L0 and FVE on (a) ``data/eval/everyday_prose.json``, hand-written
   news, recipes, dialogue, letters, stories, reviews, poems, unlike the training corpus; (b) held-out
   code (the corpus's held-out ``python_source`` documents); (c) the corpus's held-out split.
2. **Concepts** (``data/eval/concepts.json``, 27 concepts x 10 sentences, most without the concept's word,
   against 48 neutral sentences and the other concepts' sentences; a feature's score on a sentence is its
   max over the sentence's tokens): the best single feature's AUROC per concept, and whether
   ``scope.search(word)``'s top 5 holds a feature with AUROC >= 0.90. And what the Explorer's list shows
   first: each concept's sentences read as one paragraph, the first 5 of ``acts.standout()`` (and, to
   compare, of ``acts.top()``, the strongest); a listed feature is *about the text* when its AUROC for that
   concept is >= 0.80. The same two reading measures on ``data/eval/concepts_heldout.json`` (20 other
   concepts x 8 sentences, written after every search and label rule had been tuned on the first suite), and
   on ``data/eval/phrases.json`` (8 concepts named by two-word phrases, "ice cream", "credit card", x 8).
   The first two of those on ``data/eval/concepts_heldout2.json`` too (24 concepts x 8, written on 2026-12-03,
   overlapping on purpose: pizza, cheese, chocolate), and on ``data/eval/concepts_heldout3.json`` (24 more x 8,
   written on 2026-12-03 after every rule was set, with neutral sentences of its own: spider, honey, volcano).
   And what a click on a word lists first (in the same paragraphs, at every content word): the first of
   ``acts.ranked_at`` (its word's features first) and of ``acts.top_at`` (the strongest); it is *placed*
   when it is about the concept (AUROC >= 0.80) or its label names the clicked word.
   And ``scope.search(examples=..., against=...)`` from a few sentences: each concept's first 3 or 5 against as
   many neutral sentences, or as many of another concept; a hit is good when its AUROC on the other sentences
   is >= 0.90 (``examples_scores``).
3. **Steering**: for each concept, the top feature of ``scope.search(word)`` and that of
   ``scope.search(word, steer=True)`` (search's best readers tried on the sliders, with other prompts than
   these, see ``analysis/steerable.py``) are each added (method ``add``) at
   coefficients the steering panel's slider offers by default (0.1 to 0.5 of its bound), and, for
   comparison, the difference-of-means direction of the same texts, at the same layer and the same
   coefficients; greedy, 25 new tokens, after each of 3 neutral prompts. Success for a concept: at one
   coefficient, at least 2 of the 3 continuations mention it (its ``mention`` pattern) in fluent,
   non-looping text (``steering.trial.is_fluent``: mean token NLL under the unsteered model <= 5 nats, at most
   35% repeated word 3-grams). Positions ``all``, ``prompt`` and ``generated`` are compared.
"""
from __future__ import annotations

import argparse
import json
import re
import sys
import time
from pathlib import Path

import torch

DATA = Path(__file__).resolve().parents[1] / "scope_widgets" / "data" / "eval"
FRACTIONS = (0.1, 0.2, 0.3, 0.5)  # of the slider's default bound (3x scope.steering_scale, rounded up)


def log(*a):
    print(*a, file=sys.stderr, flush=True)


# ------------------------------------------------------------------------------------------ reading
def reading(scope, texts: list[str], name: str, n_positions: int = 1500) -> dict:
    from scope_widgets.engine.tokens import pad_id
    from scope_widgets.training.activations import collect_activations, make_windows
    from scope_widgets.training.evaluate import activation_metrics, loss_recovered

    sae, tok, model = scope.sae, scope.tokenizer, scope.model
    windows = make_windows(tok, texts, 256, max_windows_per_doc=8)
    x = collect_activations(model, windows, sae.hook_point_in, 1 << 62, batch=8, pad_id=pad_id(tok), progress=False).x
    params = {k: v.detach().float() for k, v in sae.named_parameters() if v is not None}
    std = x.std(0).clamp_min(1e-6)
    m = activation_metrics(params, [x], std)
    m.update(loss_recovered(model, params, windows, sae.hook_point_in, x.mean(0), n_positions, progress=False))
    m["name"], m["windows"] = name, len(windows)
    log(f"  reading {name}: loss recovered {m['loss_recovered']:.3f}, L0 {m['l0']:.1f}, {m['eval_tokens']} tokens")
    return m


# ------------------------------------------------------------------------------------------ concepts
def suite_texts(suite: dict) -> tuple[list[str], list[str | None]]:
    """``(texts, owner)``: every concept's sentences, then the neutral ones, and beside each text the name
    of its concept (None for a neutral sentence)."""
    texts = [s for c in suite["concepts"] for s in c["sentences"]] + suite["neutral"]
    owner = [c["name"] for c in suite["concepts"] for _ in c["sentences"]] + [None] * len(suite["neutral"])
    return texts, owner


def concept_scores(scope, suite: dict) -> tuple[dict, dict]:
    """``(best, per_concept_auroc)``: per concept the best feature and AUROC; AUROC of every feature."""
    from scope_widgets.analysis.search import auroc
    from scope_widgets.features import text_maxima

    sae = scope.sae
    names = [c["name"] for c in suite["concepts"]]
    all_texts, owner = suite_texts(suite)
    maxima = text_maxima(scope.model, scope.tokenizer, sae, all_texts, 256)
    best, per = {}, {}
    for n in names:
        pos = maxima[[i for i, o in enumerate(owner) if o == n]]
        neg = maxima[[i for i, o in enumerate(owner) if o != n]]
        a = auroc(pos, neg)
        per[n] = a
        v, i = a.max(0)
        best[n] = (int(i), float(v))
    return best, per


def concept_rows(scope, suite: dict, concepts: list[dict]) -> tuple[list[dict], dict, dict]:
    """``(rows, summary, per_concept_auroc)``: per concept the best feature's AUROC and the best AUROC in
    ``scope.search(word)``'s top 5; the summary has the shares that meet the targets."""
    best, per = concept_scores(scope, suite)
    rows = []
    for c in concepts:
        hits = scope.search(c["word"], k=5)
        top5 = [(h.feature, float(per[c["name"]][h.feature])) for h in hits]
        rows.append({"concept": c["name"], "word": c["word"], "best_feature": best[c["name"]][0],
                     "best_auroc": round(best[c["name"]][1], 3), "search_top5": [(f, round(a, 3)) for f, a in top5],
                     "search_best_auroc": round(max((a for _, a in top5), default=0.0), 3),
                     "search_top1_auroc": round(top5[0][1], 3) if top5 else 0.0,
                     "search_top1_label": hits[0].label if hits else None})
        log(f"  {c['name']}: best AUROC {rows[-1]['best_auroc']}, search top-5 best {rows[-1]['search_best_auroc']}")
    summary = {
        "n": len(rows),
        "best_auroc_ge_0.95": sum(r["best_auroc"] >= 0.95 for r in rows) / len(rows),
        "search_top5_ge_0.90": sum(r["search_best_auroc"] >= 0.90 for r in rows) / len(rows),
        "search_top1_ge_0.90": sum(r["search_top1_auroc"] >= 0.90 for r in rows) / len(rows),
    }
    return rows, summary, per


def examples_scores(scope, suites: list[dict], sizes=(3, 5)) -> dict:
    """``scope.search(examples=..., against=...)`` from a few sentences, judged on the rest: for each concept
    of both suites, its first ``n`` sentences against ``n`` neutral ones (a seeded draw), and against the
    first ``n`` of the next concept in its suite (a contrast); a hit is *good* when its AUROC on the
    concept's other sentences, against all other sentences of the suite (or the other concept's other
    sentences), is >= 0.90. Counts concepts whose first hit, and whose top 5, hold a good one."""
    import random

    from scope_widgets.analysis.search import auroc
    from scope_widgets.features import text_maxima

    out = {}
    for n in sizes:
        row = {"n": 0, "neutral_first": 0, "neutral_top5": 0, "contrast_first": 0, "contrast_top5": 0}
        for si, suite in enumerate(suites):
            concepts = suite["concepts"]
            texts, owner = suite_texts(suite)
            maxima = text_maxima(scope.model, scope.tokenizer, scope.sae, texts, 256)
            neutral = [i for i, o in enumerate(owner) if o is None]
            for ci, c in enumerate(concepts):
                mine = [i for i, o in enumerate(owner) if o == c["name"]]
                other = [i for i, o in enumerate(owner) if o == concepts[(ci + 1) % len(concepts)]["name"]]
                against = random.Random(7 * ci + si).sample(neutral, n)
                rest = [i for i in range(len(texts)) if owner[i] != c["name"] and i not in against]
                for kind, negs, judge_neg in (("neutral", against, rest), ("contrast", other[:n], other[n:])):
                    hits = scope.search(examples=[texts[i] for i in mine[:n]], against=[texts[i] for i in negs], k=5)
                    true = auroc(maxima[mine[n:]], maxima[judge_neg])
                    good = [float(true[h.feature]) >= 0.90 for h in hits]
                    row[f"{kind}_first"] += bool(good and good[0])
                    row[f"{kind}_top5"] += any(good)
                row["n"] += 1
        out[str(n)] = row
        log(f"  examples ({n} each): " + ", ".join(f"{k} {v}" for k, v in row.items()))
    return out


STANDOUT_AUROC = 0.80  # a listed feature is about the paragraph's concept from this AUROC


def standout_scores(scope, suite: dict, per: dict, k: int = 5) -> dict:
    """What the Explorer lists first for a paragraph about each concept (its sentences joined): how many of
    the first ``k`` of ``standout()`` (and of ``top()``) are about the concept, and whether the first is."""
    names = [c["name"] for c in suite["concepts"]]
    paragraphs = scope.features([" ".join(c["sentences"]) for c in suite["concepts"]])
    out: dict = {"k": k, "auroc_threshold": STANDOUT_AUROC, "per_concept": []}
    for ranking in ("standout", "top"):
        firsts = about = 0
        for name, acts in zip(names, paragraphs):
            ids = [i for i, _ in getattr(acts, ranking)(k)]
            hits = [bool(per[name][i] >= STANDOUT_AUROC) for i in ids]
            firsts += bool(hits and hits[0])
            about += sum(hits)
            if ranking == "standout":
                out["per_concept"].append({"concept": name, "first": [(i, scope.label(i), round(float(per[name][i]), 2)) for i in ids[:3]]})
        out[ranking] = {"first_about_the_text": firsts, "about_the_text_in_first_k": about, "n": len(names)}
    return out


def token_list_scores(scope, suite: dict, per: dict) -> dict:
    """What a click on a word lists first, in each concept's paragraph: at every content word (letters, not a
    function word), the first feature of ``ranked_at`` (its word's features, then the text's: the token list's order)
    and of ``top_at`` (the strongest). The first is *one a reader can place* when it is about the paragraph's
    concept (AUROC >= ``STANDOUT_AUROC``) or its label names the clicked word; *dense* when it usually fires
    on 3% of tokens or more."""
    from scope_widgets.analysis.lexicon import word_class
    from scope_widgets.features import label_names

    names = [c["name"] for c in suite["concepts"]]
    paragraphs = scope.features([" ".join(c["sentences"]) for c in suite["concepts"]])
    cache: dict[int, str] = {}

    def label(i: int) -> str:
        if i not in cache:
            cache[i] = scope.label(i) or ""
        return cache[i]

    out = {"ranked": {"placed": 0, "dense": 0}, "strongest": {"placed": 0, "dense": 0}, "words": 0}
    for name, acts in zip(names, paragraphs):
        rate = acts.usual_levels().usual_rate()
        for pos in range(acts.first_position, acts.n_tokens):
            word = acts.tokens[pos].strip()
            if not re.fullmatch(r"[A-Za-z]{3,}", word) or word_class(word) is not None:
                continue
            firsts = {"ranked": acts.ranked_at(pos, 1, labels=label), "strongest": acts.top_at(pos, 1)}
            if not firsts["strongest"]:
                continue
            out["words"] += 1
            for key, first in firsts.items():
                f = first[0][0]
                out[key]["placed"] += int(per[name][f] >= STANDOUT_AUROC or label_names(label(f), word))
                out[key]["dense"] += int(rate[f] >= 0.03)
    return out


# ------------------------------------------------------------------------------------------ steering
def judge(scope, prompt: str, text: str, pattern: str) -> dict:
    """A steered continuation judged by the library's rules (``steering.trial``) and the concept's pattern."""
    from scope_widgets.steering.trial import continuation_nll, is_fluent, repeat_fraction

    nll = continuation_nll(scope.model, scope.tokenizer, [prompt], [text])[0]
    mention = re.search(pattern, text, re.IGNORECASE) is not None
    fluent = is_fluent(text, nll)
    return {"text": text, "nll": round(nll, 2), "repeat": round(repeat_fraction(text), 2), "mention": mention,
            "fluent": fluent, "ok": mention and fluent}


def steer_concept(scope, concept: dict, prompts: list[str], feature: int, direction, positions: str, fractions,
                  steer_feature: int | None = None) -> dict:
    """Feature (and, when given, ``steer_feature``'s and ``direction``'s) steering of one concept at
    coefficients the slider offers; success when one coefficient works for 2 of the 3 prompts."""
    from scope_widgets.steering.trial import steered_continuations
    from scope_widgets.widgets._steering import slider_limit

    sae = scope.sae
    kinds = [("feature", sae.W_dec[feature].detach().float(), slider_limit(scope, feature))]
    if steer_feature is not None:
        kinds.append(("steer_feature", sae.W_dec[steer_feature].detach().float(), slider_limit(scope, steer_feature)))
    if direction is not None:
        kinds.append(("direction", direction.vector.float(), slider_limit(scope, None)))
    out = {}
    for kind, unit, limit in kinds:
        coefs = [f * limit for f in fractions]
        rows = [(c, p) for c in coefs for p in prompts]
        vectors = torch.stack([c * unit for c, _ in rows])
        texts = steered_continuations(scope.model, scope.tokenizer, sae.hook_point_out, [p for _, p in rows], vectors, positions)
        results = [dict(coefficient=round(c, 2), prompt=p, **judge(scope, p, t, concept["mention"])) for (c, p), t in zip(rows, texts)]
        by_coef = {}
        for r in results:
            by_coef.setdefault(r["coefficient"], []).append(r)
        good = [c for c, rs in by_coef.items() if sum(r["ok"] for r in rs) >= 2]
        out[kind] = {"success": bool(good), "coefficient": good[0] if good else None, "limit": round(limit, 2),
                     "results": results}
    return out


# ------------------------------------------------------------------------------------------ main
def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(prog="python -m benchmarks.default_sae", description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--json", default=None)
    ap.add_argument("--threads", type=int, default=0)
    ap.add_argument("--positions", default="all,prompt,generated")
    ap.add_argument("--skip-reading", action="store_true")
    ap.add_argument("--skip-steering", action="store_true")
    args = ap.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    import scope_widgets as sw
    from scope_widgets.corpus import build_corpus

    t0 = time.time()
    scope = sw.Scope.load(device="cpu")
    suite = json.loads((DATA / "concepts.json").read_text())
    prose = [d["text"] for d in json.loads((DATA / "everyday_prose.json").read_text())["documents"]]
    prompts = json.loads((DATA / "steering_prompts.json").read_text())["prompts"][:3]
    report: dict = {"sae": scope.sae.name, "hook_point": scope.sae.hook_point_in, "d_sae": scope.sae.d_sae}

    if not args.skip_reading:
        log("reading ...")
        corpus = build_corpus()
        code = [d.text for d in corpus.heldout if d.source == "python_source"]
        held = [d.text for d in corpus.heldout if d.source != "python_source"]
        report["reading"] = [reading(scope, prose, "everyday prose (hand-written, held out)"),
                             reading(scope, code, "code (held-out python_source)"),
                             reading(scope, held[:: max(1, len(held) // 60)], "corpus held-out split")]

    log("concepts ...")
    concepts = suite["concepts"][:8] if args.quick else suite["concepts"]
    rows, report["concept_summary"], per = concept_rows(scope, suite, concepts)
    report["concepts"] = rows
    report["standout"] = standout_scores(scope, suite, per)
    report["token_lists"] = token_list_scores(scope, suite, per)
    log("held-out concepts ...")  # a second suite that no search, label or steering rule was tuned on
    heldout = json.loads((DATA / "concepts_heldout.json").read_text())
    report["heldout_concepts"], report["heldout_summary"], per_heldout = concept_rows(scope, heldout, heldout["concepts"])
    report["heldout_token_lists"] = token_list_scores(scope, heldout, per_heldout)
    log("third concept suite ...")  # written 2026-12-03, concepts that overlap (pizza, cheese, chocolate)
    third = json.loads((DATA / "concepts_heldout2.json").read_text())
    report["third_concepts"], report["third_summary"], _ = concept_rows(scope, third, third["concepts"])
    log("fourth concept suite ...")  # written 2026-12-03 after every rule was set; nothing was chosen on it
    fourth = json.loads((DATA / "concepts_heldout3.json").read_text())
    report["fourth_concepts"], report["fourth_summary"], _ = concept_rows(scope, fourth, fourth["concepts"])
    log("phrases ...")  # concepts named by two words, which have no token profile of their own
    phrases = json.loads((DATA / "phrases.json").read_text())
    report["phrase_concepts"], report["phrase_summary"], _ = concept_rows(scope, phrases, phrases["concepts"])
    log("search by examples ...")
    report["examples_search"] = examples_scores(scope, [suite, heldout])

    log("steering ...")
    fractions = FRACTIONS[1::2] if args.quick else FRACTIONS
    steering = {}
    if args.skip_steering:
        args.positions = ""
    directions = {c["name"]: scope.direction(c["word"]) for c in concepts} if args.positions else {}
    steerers = {}
    for c, r in zip(concepts, rows):
        if args.positions:  # search's choice for steering: its best readers tried on the sliders (other prompts)
            hit = scope.search(c["word"], k=1, steer=True)[0]
            steerers[c["name"]] = hit.feature
            r.update(steer_feature=hit.feature, steer_label=hit.label, steer_trial=hit.steers,
                     steer_feature_auroc=round(float(per[c["name"]][hit.feature]), 3))
            log(f"  search({c['word']!r}, steer=True): {hit.feature} {hit.label!r}, steers {hit.steers:.2f} in its trial")
    for i, positions in enumerate(p for p in args.positions.split(",") if p):
        per_concept = []
        for c, r in zip(concepts, rows):
            # search's top reader and its steering choice at every positions listed, directions at the first
            # (the panel's default)
            res = steer_concept(scope, c, prompts, r["search_top5"][0][0], directions[c["name"]] if i == 0 else None,
                                positions, fractions, steer_feature=steerers[c["name"]])
            per_concept.append({"concept": c["name"], "feature_id": r["search_top5"][0][0], "steer_feature_id": steerers[c["name"]], **res})
            log(f"  [{positions}] {c['name']}: " + ", ".join(f"{k} {v['success']} @ {v['coefficient']}" for k, v in res.items()))
        steering[positions] = {
            "feature_successes": sum(p["feature"]["success"] for p in per_concept),
            "steer_feature_successes": sum(p["steer_feature"]["success"] for p in per_concept),
            "direction_successes": sum(p["direction"]["success"] for p in per_concept) if i == 0 else None,
            "n": len(per_concept), "per_concept": per_concept,
        }
    report["steering"] = steering
    report["seconds"] = round(time.time() - t0, 1)
    text = json.dumps(report, indent=1, default=float)
    if args.json:
        Path(args.json).write_text(text)
    print(summary(report))
    return report


def summary(report: dict) -> str:
    lines = [f"# {report['sae']} at {report['hook_point']}"]
    for m in report.get("reading", []):
        lines.append(f"reading | {m['name']} | loss recovered {m['loss_recovered']:.3f} | L0 {m['l0']:.1f} | "
                     f"FVE {m['fve_raw']:.3f} | {m['eval_tokens']} tokens")
    for key, what in (("concept_summary", "concepts"), ("heldout_summary", "held-out concepts"),
                      ("third_summary", "third suite"), ("fourth_summary", "fourth suite"),
                      ("phrase_summary", "two-word phrases")):
        s = report.get(key)
        if s:
            lines.append(f"{what} | {s['n']} | best feature AUROC >= 0.95: {s['best_auroc_ge_0.95']:.0%} | "
                         f"search top-5 AUROC >= 0.90: {s['search_top5_ge_0.90']:.0%} | "
                         f"its first >= 0.90: {s['search_top1_ge_0.90']:.0%}")
    if "standout" in report:
        st = report["standout"]
        for ranking, what in (("standout", "stands out"), ("top", "strongest")):
            r = st[ranking]
            lines.append(f"lists | {what}: first feature about the paragraph {r['first_about_the_text']}/{r['n']} | "
                         f"{r['about_the_text_in_first_k']}/{st['k'] * r['n']} of the first {st['k']}")
    for key, what in (("token_lists", "concepts"), ("heldout_token_lists", "held-out concepts")):
        t = report.get(key)
        if t:
            lines.append(f"token lists ({what}) | {t['words']} clicked words | first feature placed: its word's first "
                         f"{t['ranked']['placed']}, strongest {t['strongest']['placed']} | dense first: "
                         f"{t['ranked']['dense']} and {t['strongest']['dense']}")
    for size, r in report.get("examples_search", {}).items():
        lines.append(f"search(examples=) | {size} sentences each, {r['n']} concepts | against neutral: first hit good "
                     f"{r['neutral_first']}, top 5 {r['neutral_top5']} | against another concept: first {r['contrast_first']}, "
                     f"top 5 {r['contrast_top5']}")
    for pos, st in report["steering"].items():
        d = f" | directions {st['direction_successes']}/{st['n']}" if st["direction_successes"] is not None else ""
        lines.append(f"steering ({pos}) | search(word)'s top feature {st['feature_successes']}/{st['n']} | "
                     f"search(word, steer=True)'s {st['steer_feature_successes']}/{st['n']}{d}")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
