"""Benchmark 8: feature attribution of a prediction, its cost and how honest its numbers are.

Cost: ``scope.attribute(text)`` (one forward pass, grad mode from the hook up, one backward pass for the
probes only, the unembedding on one position) against a full forward pass of the same ids (all layers and
the logits at every position, no gradients), interleaved, medians over rounds. Target: <= 2x at 128 tokens.

Honesty: for each prompt, the 20 features with the largest summed scores are ablated one at a time (clamped
to 0 at every position, the error term kept); the real change of the target's logit is compared with the
linear estimate (minus the feature's summed score). Reported: the pooled Pearson correlation, the per-prompt
median, and where the estimate fails (the features whose real effect differs most from the estimate).
"""

from __future__ import annotations

import statistics

import torch

from benchmarks.common import (STATUS_MISSED, STATUS_OK, Result, fmt_s, full_forward_fn, interleaved, log,
                               text_with_tokens, tiny_subject)

TARGET_RATIO = 2.0
LENGTHS = (32, 128, 512)
TOP_K = 20
#: Everyday prompts (none from the SAE's training corpus); each attributes the model's own top prediction.
PROMPTS = (
    "The capital of France is",
    "She poured a cup of hot",
    "The opposite of hot is",
    "My favourite animal is the",
    "The doctor told the patient to take the",
    "Once upon a time, there was a little",
    "The sun rises in the",
    "He played the guitar and sang a",
    "def add(a, b):\n    return",
    "It was raining, so she took her",
)
TINY_PROMPTS = ("abc abc abc", "hello world", "the cat sat on")


def measure_cost(scope, lengths, budget_s: float, max_repeats: int) -> list[dict]:
    rows = []
    for n in lengths:
        text = text_with_tokens(scope.tokenizer, n)
        ids = scope.tokenizer(text, add_special_tokens=True)["input_ids"]
        input_ids = torch.tensor([ids], device=scope.device)
        times = interleaved({"attribute": lambda text=text: scope.attribute(text),
                             "full": full_forward_fn(scope, input_ids)},
                            repeats=max_repeats, budget_s=budget_s, device=scope.device)
        row = {"tokens": len(ids), "attribute_s": times.median("attribute"), "full_s": times.median("full"),
               "ratio": times.ratio("attribute", "full"), "rounds": times.rounds, "clock": times.clock}
        rows.append(row)
        log(f"  [8] {row['tokens']:>4} tokens: attribute {fmt_s(row['attribute_s'])}, full forward "
            f"{fmt_s(row['full_s'])} -> x{row['ratio']:.2f} ({row['rounds']} rounds, {row['clock']} time)")
    return rows


def measure_faithfulness(scope, prompts, k: int = TOP_K) -> dict:
    from scope_widgets.attribution import pearson

    pairs, per_prompt, worst = [], [], []
    for prompt in prompts:
        attr = scope.attribute(prompt)
        report = attr.faithfulness(k)
        per_prompt.append({"prompt": prompt, "target": attr.target, "p": attr.target_prob, "r": report.pearson,
                           "error_share": attr.error})
        a = attr.scores()
        for f, est, real in zip(report.features, report.estimated, report.real):
            act = float(a.activations[a.features == f].max())
            pairs.append((est, real))
            worst.append({"prompt": prompt, "feature": f, "estimated": est, "real": real, "max_act": act})
    est, real = [p[0] for p in pairs], [p[1] for p in pairs]
    worst.sort(key=lambda w: abs(w["real"] - w["estimated"]), reverse=True)
    big = sorted(worst, key=lambda w: w["max_act"], reverse=True)
    half = len(big) // 2
    return {
        "pooled_r": pearson(est, real),
        "median_prompt_r": statistics.median(p["r"] for p in per_prompt if p["r"] == p["r"]),
        "r_large_acts": pearson([w["estimated"] for w in big[:half]], [w["real"] for w in big[:half]]),
        "r_small_acts": pearson([w["estimated"] for w in big[half:]], [w["real"] for w in big[half:]]),
        "n_pairs": len(pairs),
        "per_prompt": per_prompt,
        "worst": worst[:5],
    }


def run(subject, *, quick: bool = False) -> Result:
    scope = subject.scope
    lengths = (32, 128) if subject.tiny else ((128,) if quick else LENGTHS)
    cost = measure_cost(scope, lengths, budget_s=0.5 if subject.tiny else (8.0 if quick else 20.0),
                        max_repeats=5 if subject.tiny else 21)
    faith = {"this model": measure_faithfulness(scope, TINY_PROMPTS if subject.tiny else PROMPTS)}
    if not subject.tiny:  # the same measure on a tiny random model, for comparison
        faith["tiny random model"] = measure_faithfulness(tiny_subject().scope, TINY_PROMPTS)
    for name, f in faith.items():
        log(f"  [8] faithfulness on {name}: pooled r {f['pooled_r']:.3f} over {f['n_pairs']} ablations, "
            f"median per prompt {f['median_prompt_r']:.3f}")
    at_128 = next((r for r in cost if r["tokens"] == 128), cost[-1])
    ok = at_128["ratio"] <= TARGET_RATIO
    own = faith["this model"]
    headline = (f"attribute / full forward x{at_128['ratio']:.2f} at {at_128['tokens']} tokens; estimated vs real "
                f"ablation effect r = {own['pooled_r']:.3f} over {own['n_pairs']} ablations (top {TOP_K} features "
                f"of {len(own['per_prompt'])} prompts)")
    rows = [{"what": f"cost, {r['tokens']} tokens", "attribute": fmt_s(r["attribute_s"]),
             "full forward": fmt_s(r["full_s"]), "ratio / r": f"{r['ratio']:.2f}x", "rounds": r["rounds"]} for r in cost]
    for name, f in faith.items():
        rows.append({"what": f"faithfulness, {name}", "attribute": "", "full forward": "",
                     "ratio / r": f"pooled r {f['pooled_r']:.3f}; per prompt median {f['median_prompt_r']:.3f}; "
                                  f"largest activations r {f['r_large_acts']:.3f}, smallest {f['r_small_acts']:.3f}",
                     "rounds": f"{f['n_pairs']} ablations"})
    notes = [
        "full forward = model(input_ids) with logits at every position, no gradients; attribute = scope.attribute(text) "
        "(target: the top prediction at the last token). Interleaved rounds, medians; CPU time on the CPU.",
        "faithfulness: each of the top 20 features by summed score ablated alone (clamped to 0 at every position but "
        "BOS, error kept); estimate = minus its summed score; real = the change of the target's logit.",
    ]
    for w in own["worst"][:3]:
        notes.append(f"largest miss: {w['prompt']!r}, feature {w['feature']} (max activation {w['max_act']:.0f}): "
                     f"estimated {w['estimated']:+.2f}, real {w['real']:+.2f}")
    notes.append(f"subject: {subject.description}")
    return Result(id="8", title="Feature attribution", target=f"<= {TARGET_RATIO:.0f}x a full forward at 128 tokens",
                  status=STATUS_OK if ok else STATUS_MISSED, headline=headline,
                  columns=["what", "attribute", "full forward", "ratio / r", "rounds"], rows=rows, notes=notes,
                  config={"raw": {"cost": cost, "faithfulness": faith}})
