"""Benchmark 2: steered generation speed.

Tokens per second of ``scope.generate`` steered (``add`` and ``clamp``) against plain ``model.generate``
with the same settings: greedy, the same prompt ids, the same ``max_new_tokens``, the KV cache on, in
the same rounds. Also shown (not targets): ``scope.generate`` unsteered (the wrapper alone) and
``scope.stream`` steered (the worker thread and the text queue that the widgets use).
Target: steered / plain >= 0.95.
"""

from __future__ import annotations

import torch

from benchmarks.common import STATUS_MISSED, STATUS_OK, Result, fmt_s, interleaved, log, median

TARGET = 0.95
PROMPT = "Once upon a time, in a small village by the sea, there lived an old fisherman who"


def pick_feature(scope) -> int:
    """A feature that fires on the prompt (the strongest), so clamp has something to clamp."""
    top = scope.features(PROMPT, k=1).top(1)
    return int(top[0][0]) if top else 0


def first_round_estimate(counts, plain_kwargs, scope, device) -> float:
    """Seconds one round will take, from one timed plain generation (for the time budget)."""
    import time

    from benchmarks.common import synchronizer

    sync = synchronizer(device)
    sync()
    t0 = time.perf_counter()
    with torch.no_grad():
        out = scope.model.generate(**plain_kwargs)
    sync()
    counts["plain"] = out.shape[1] - plain_kwargs["input_ids"].shape[1]
    return 5 * (time.perf_counter() - t0)


def measure(scope, *, new_tokens: int = 64, budget_s: float = 60.0, max_repeats: int = 9, min_repeats: int = 3,
            coefficient: float = 8.0, device=None, label: str = "") -> dict:
    from scope_widgets.steering import sampling_kwargs

    device = device or scope.device
    feature = pick_feature(scope)
    ids = scope.tokenizer(PROMPT, add_special_tokens=True)["input_ids"]
    input_ids = torch.tensor([ids], device=device)
    plain_kwargs = dict(input_ids=input_ids, attention_mask=torch.ones_like(input_ids),
                        **sampling_kwargs(scope.tokenizer, new_tokens, 0.0))
    steer = {feature: coefficient}
    counts: dict[str, int] = {}

    def plain():
        with torch.no_grad():
            out = scope.model.generate(**plain_kwargs)
        counts["plain"] = out.shape[1] - input_ids.shape[1]

    def steered(method):
        def go():
            scope.generate(PROMPT, steer=steer, method=method, max_new_tokens=new_tokens)
        return go

    def unsteered():
        scope.generate(PROMPT, max_new_tokens=new_tokens)

    def stream_add():
        s = scope.stream(PROMPT, steer=steer, method="add", max_new_tokens=new_tokens)
        s.wait()
        counts["stream add"] = s.n_tokens

    # scope.generate returns text; greedy decoding is deterministic, so its token count is that of the
    # same steered call through scope.stream (which counts) -- run once here, untimed: the warm-up.
    with torch.no_grad():
        scope.model.generate(**{**plain_kwargs, "max_new_tokens": 2})
    for method in ("add", "clamp"):
        s = scope.stream(PROMPT, steer=steer, method=method, max_new_tokens=new_tokens)
        s.wait()
        counts[method] = s.n_tokens
    s = scope.stream(PROMPT, max_new_tokens=new_tokens)
    s.wait()
    counts["unsteered"] = s.n_tokens

    contenders = {"plain": plain, "add": steered("add"), "clamp": steered("clamp"),
                  "unsteered": unsteered, "stream add": stream_add}
    times = interleaved(contenders, repeats=max_repeats, min_repeats=min_repeats, budget_s=budget_s, device=device,
                        warmup=0, round_estimate_s=first_round_estimate(counts, plain_kwargs, scope, device))
    rounds = times.rounds

    def tps(name, r, clock):
        return counts[name] / (times.wall if clock == "wall" else times.primary)[name][r]

    result = {"config": label, "prompt_tokens": len(ids), "new_tokens": new_tokens, "feature": feature,
              "coefficient": coefficient, "rounds": rounds, "clock": times.clock, "contenders": {}}
    for name in contenders:
        result["contenders"][name] = {
            "tokens": counts[name],
            "seconds": times.median(name),
            "tokens_per_s": median([tps(name, r, "wall") for r in range(rounds)]),
            "vs_plain": median([tps(name, r, None) / tps("plain", r, None) for r in range(rounds)]),
            "vs_plain_wall": median([tps(name, r, "wall") / tps("plain", r, "wall") for r in range(rounds)]),
        }
    result["hook_s"] = hook_cost(scope, feature, coefficient)
    step = 1 / result["contenders"]["plain"]["tokens_per_s"]
    result["hook_share"] = {m: t / step for m, t in result["hook_s"].items()}
    summary = ", ".join(f"{n} x{c['vs_plain']:.3f}" for n, c in result["contenders"].items() if n != "plain")
    log(f"  [2{(' ' + label) if label else ''}] plain {result['contenders']['plain']['tokens_per_s']:.1f} tok/s; "
        f"{summary} ({rounds} rounds)")
    return result


def hook_cost(scope, feature: int, coefficient: float = 8.0, calls: int = 200) -> dict[str, float]:
    """Seconds per call of the steering hook alone, on one decode step's activation ([1, 1, d]), for add
    and clamp: what steering adds to each generated token, without the model's own noise."""
    import time

    from benchmarks.common import synchronizer
    from scope_widgets.engine import hooks

    sae = scope.sae
    module, _ = hooks.resolve(scope.model, sae.hook_point_out)
    sync = synchronizer(scope.device)
    out = {}
    for method in ("add", "clamp"):
        with scope.steer({feature: coefficient}, method=method):
            fns = list(module._forward_hooks.values())
            h = torch.randn(1, 1, sae.d_out, device=scope.device, dtype=sae.W_dec.dtype)
            for fn in fns:  # the prompt pass (positions 0..n-1), then one-token passes
                fn(module, (h,), torch.randn(1, 8, sae.d_out, device=scope.device, dtype=sae.W_dec.dtype))
            sync()
            t0 = time.perf_counter()
            for _ in range(calls):
                for fn in fns:
                    fn(module, (h,), h)
            sync()
            out[method] = (time.perf_counter() - t0) / calls
    return out


def rows_of(result: dict) -> list[dict]:
    rows = []
    for name, c in result["contenders"].items():
        row = {"config": result["config"]} if result.get("config") else {}
        row.update({
            "contender": name if name != "plain" else "plain model.generate",
            "new tokens": c["tokens"],
            "time": fmt_s(c["seconds"]),
            "tokens/s": f"{c['tokens_per_s']:.1f}",
            "vs plain": f"{c['vs_plain']:.3f}x",
            "vs plain (wall)": f"{c['vs_plain_wall']:.3f}x",
            "target": f">= {TARGET}x" if name in ("add", "clamp") else "",
        })
        rows.append(row)
    return rows


def verdict(results: list[dict]) -> tuple[str, str]:
    worst = min(min(r["contenders"][m]["vs_plain"] for m in ("add", "clamp")) for r in results)
    parts = []
    for r in results:
        c = r["contenders"]
        prefix = f"{r['config']}: " if r.get("config") else ""
        parts.append(f"{prefix}add {c['add']['vs_plain']:.3f}x, clamp {c['clamp']['vs_plain']:.3f}x plain "
                     f"({c['plain']['tokens_per_s']:.1f} tok/s plain)")
    return (STATUS_OK if worst >= TARGET else STATUS_MISSED), "; ".join(parts)


def run(subject, *, quick: bool = False) -> Result:
    scope = subject.scope
    # 32 new tokens on the CPU (a decode step of the float32 270M reads its 1 GB of weights: a 2-core
    # machine makes a handful of tokens per second); 64 on a GPU (benchmark 7)
    new_tokens = 8 if subject.tiny else (16 if quick else 32)
    budget = 0.5 if subject.tiny else (30.0 if quick else 200.0)
    result = measure(scope, new_tokens=new_tokens, budget_s=budget, max_repeats=3 if subject.tiny else 11,
                     min_repeats=3 if subject.tiny else 5)
    status, headline = verdict([result])
    rows = rows_of(result)
    return Result(
        id="2", title="Steered generation speed", target=f">= {TARGET}x plain model.generate tokens/s (add and clamp)",
        status=status, headline=headline, columns=list(rows[0]), rows=rows,
        notes=[f"the steering hook alone costs {1e6 * result['hook_s']['add']:.0f} us (add) and "
               f"{1e6 * result['hook_s']['clamp']:.0f} us (clamp) per decode step: "
               f"{100 * result['hook_share']['add']:.2f}% and {100 * result['hook_share']['clamp']:.2f}% of a plain "
               "decode step (timed on its own, 200 calls on a [1, 1, d] activation).",
               f"greedy, {new_tokens} new tokens, KV cache on, prompt of {result['prompt_tokens']} tokens, "
               f"steering feature {result['feature']} at {result['coefficient']} (every position but BOS); "
               "tokens/s is the wall-clock median of per-round values; each ratio is the median of per-round ratios, on "
               f"{result['clock']} time (CPU time of this process on the CPU, wall time on CUDA), wall-time ratio beside.",
               f"subject: {subject.description}"],
        config={"raw": result},
    )
