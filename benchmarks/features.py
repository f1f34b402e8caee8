"""Benchmark 1: feature extraction overhead.

``scope.features(text)`` against, on the same token ids and in the same rounds,
  (a) the floor: layers 0..L alone (the base model with its stack cut after L, no final norm) plus the
      bare encoder matmul ``x @ W_enc + b_enc`` -- the least work any tool must do;
  (b) the full forward (all layers and the logits), what a naive hook-based tool pays.
Target: features / floor <= 1.10 at every length, and well under the full forward.
"""

from __future__ import annotations

import torch

from benchmarks.common import (
    STATUS_MISSED,
    STATUS_OK,
    Result,
    floor_fn,
    fmt_s,
    full_forward_fn,
    interleaved,
    log,
    spread,
    text_with_tokens,
)

TARGET_FLOOR = 1.10
LENGTHS = (32, 128, 512, 2048)
TINY_LENGTHS = (32, 128)


def measure(scope, lengths=LENGTHS, *, k: int = 32, budget_s: float = 20.0, max_repeats: int = 15,
            min_repeats: int = 3, device=None, label: str = "", full_rounds_from: int = 512) -> list[dict]:
    """One row per text length: median seconds of each contender and the per-round ratios."""
    device = device or scope.device
    rows = []
    for n in lengths:
        text = text_with_tokens(scope.tokenizer, n)
        ids = scope.tokenizer(text, add_special_tokens=True)["input_ids"]
        input_ids = torch.tensor([ids], device=device)
        contenders = {
            "features": lambda text=text: scope.features(text, k=k),
            "floor": floor_fn(scope, input_ids),
            "full": full_forward_fn(scope, input_ids),
        }
        # the full forward is only the "well under" reference and costs several times the rest (the logits):
        # past short texts it runs in the first rounds only (paired with the same rounds of the others), so
        # the budget buys more rounds of the ratio that matters, features / floor
        limit = None
        if n >= 4 * full_rounds_from:
            limit = {"full": 1}
        elif n >= full_rounds_from:
            limit = {"full": 2}
        elif n >= full_rounds_from // 4:
            limit = {"full": 3}
        times = interleaved(contenders, repeats=max_repeats, budget_s=budget_s, device=device,
                            min_repeats=min(min_repeats, 3) if n >= 2048 else min_repeats,
                            limit_rounds=limit)
        row = {
            "tokens": len(ids),
            "features_s": times.median("features"),
            "floor_s": times.median("floor"),
            "full_s": times.median("full"),
            "vs_floor": times.ratio("features", "floor"),
            "vs_full": times.ratio("features", "full"),
            "vs_floor_wall": times.ratio("features", "floor", "wall"),
            "vs_floor_spread": spread(times.ratios("features", "floor")),
            "clock": times.clock,
            "rounds": times.rounds,
            "full_rounds": len(times.wall["full"]),
        }
        if label:
            row = {"config": label, **row}
        rows.append(row)
        log(f"  [1{(' ' + label) if label else ''}] {row['tokens']:>5} tokens: features {fmt_s(row['features_s'])}, "
            f"floor {fmt_s(row['floor_s'])}, full {fmt_s(row['full_s'])} -> x{row['vs_floor']:.3f} floor, "
            f"x{row['vs_full']:.3f} full ({row['clock']} time; wall x{row['vs_floor_wall']:.3f} floor; {row['rounds']} rounds)")
    return rows


def table(rows: list[dict]) -> tuple[list[str], list[dict]]:
    columns = (["config"] if rows and "config" in rows[0] else []) + [
        "tokens", "features", "floor", "full forward", "features / floor", "features / full",
        "features / floor (wall)", "rounds"]
    out = []
    for r in rows:
        row = {"config": r["config"]} if "config" in r else {}
        row.update({
            "tokens": r["tokens"],
            "features": fmt_s(r["features_s"]),
            "floor": fmt_s(r["floor_s"]),
            "full forward": fmt_s(r["full_s"]),
            "features / floor": f"{r['vs_floor']:.3f}x (+-{100 * r['vs_floor_spread']:.0f}%)"
            if r["vs_floor_spread"] == r["vs_floor_spread"] else f"{r['vs_floor']:.3f}x",
            "features / full": f"{r['vs_full']:.3f}x",
            "features / floor (wall)": f"{r['vs_floor_wall']:.3f}x",
            "rounds": r["rounds"] if r.get("full_rounds", r["rounds"]) == r["rounds"] else f"{r['rounds']} ({r['full_rounds']} with full)",
        })
        out.append(row)
    return columns, out


def verdict(rows: list[dict]) -> tuple[str, str]:
    worst = max(rows, key=lambda r: r["vs_floor"])
    ok = all(r["vs_floor"] <= TARGET_FLOOR and r["vs_full"] < 0.9 for r in rows)
    headline = (f"features / floor {min(r['vs_floor'] for r in rows):.2f}x to {worst['vs_floor']:.2f}x "
                f"(worst at {worst['tokens']} tokens); features / full forward "
                f"{min(r['vs_full'] for r in rows):.2f}x to {max(r['vs_full'] for r in rows):.2f}x")
    return (STATUS_OK if ok else STATUS_MISSED), headline


def run(subject, *, quick: bool = False) -> Result:
    scope = subject.scope
    lengths = TINY_LENGTHS if subject.tiny else ((32, 128, 512) if quick else LENGTHS)
    budget = 0.5 if subject.tiny else (8.0 if quick else 25.0)
    rows = measure(scope, lengths, budget_s=budget, max_repeats=5 if subject.tiny else 21,
                   min_repeats=3 if subject.tiny else 5)
    status, headline = verdict(rows)
    columns, pretty = table(rows)
    return Result(
        id="1", title="Feature extraction overhead", target=f"<= {TARGET_FLOOR:.2f}x the floor, well under the full forward",
        status=status, headline=headline, columns=columns, rows=pretty,
        notes=[
            "floor = the base model cut after the SAE's layer (no final norm, no hooks) + torch.addmm(b_enc, x, W_enc); "
            "full = model(input_ids) with logits. Same token ids, k=32, contenders interleaved, medians over rounds.",
            "ratios use this process's CPU time on the CPU (robust to the other jobs on a shared machine; the work is all "
            "computation here) and wall time on CUDA; the wall-time ratio is shown beside; times are wall-clock medians.",
            f"subject: {subject.description}",
        ],
        config={"lengths": list(lengths), "k": 32, "raw": rows},
    )
