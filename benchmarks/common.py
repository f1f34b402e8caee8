"""Shared pieces of the benchmarks: the machine record, interleaved timing, texts of exact token
lengths, the scopes benchmarked (the embedded model, or a tiny random one) and the floor.

Timing rule: contenders run interleaved, in an order rotated every round, after a warm-up round; a
ratio is the median over rounds of the per-round ratio (both sides measured seconds apart, so a
noisy shared machine slows both alike), and absolute times are medians too.
"""

from __future__ import annotations

import datetime as _dt
import gc
import os
import platform
import re
import statistics
import string
import subprocess
import sys
import sysconfig
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import torch

REPO_ROOT = Path(__file__).resolve().parent.parent
STATUS_OK, STATUS_MISSED, STATUS_PENDING, STATUS_SKIPPED = "met", "MISSED", "pending widgets", "skipped"


# ---------------------------------------------------------------------------------------------- results
@dataclass
class Result:
    """What one benchmark hands back: a status against its target, a headline, a table and notes."""

    id: str
    title: str
    target: str
    status: str
    headline: str
    columns: list[str] = field(default_factory=list)
    rows: list[dict] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    config: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        return {
            "id": self.id, "title": self.title, "target": self.target, "status": self.status,
            "headline": self.headline, "columns": self.columns, "rows": self.rows, "notes": self.notes,
            "config": self.config,
        }


def log(*args) -> None:
    print(*args, file=sys.stderr, flush=True)


# ---------------------------------------------------------------------------------------------- machine
def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.lower().startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def git_hash() -> str:
    try:
        head = subprocess.run(["git", "rev-parse", "--short=10", "HEAD"], cwd=REPO_ROOT, capture_output=True,
                              text=True, timeout=10).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no", "--", "scope_widgets"],
                               cwd=REPO_ROOT, capture_output=True, text=True, timeout=10).stdout.strip()
        return (head or "unknown") + ("-dirty" if dirty else "")
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def machine_info() -> dict:
    import transformers

    import scope_widgets

    info = {
        "date": _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "cpu": cpu_model(),
        "cores": os.cpu_count(),
        "cores_usable": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "load_average": [round(x, 2) for x in os.getloadavg()] if hasattr(os, "getloadavg") else None,
        "python": platform.python_version(),
        "torch": torch.__version__,
        "transformers": transformers.__version__,
        "scope_widgets": f"{scope_widgets.__version__} ({git_hash()})",
        "gpu": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
    }
    try:
        import psutil

        info["memory_gb"] = round(psutil.virtual_memory().total / 2**30, 1)
    except ImportError:  # pragma: no cover - psutil is a benchmark dependency
        pass
    return info


# ---------------------------------------------------------------------------------------------- timing
def set_threads(n: int | None = None) -> int:
    """Torch's CPU threads for the run. Default: 1 on a machine of 2 cores or fewer (shared here: with more
    threads than free cores, OpenMP barriers make every timing erratic), else torch's own default."""
    if n is None and (os.cpu_count() or 1) <= 2:
        n = 1
    if n:
        torch.set_num_threads(int(n))
    return torch.get_num_threads()


def synchronizer(device) -> Callable[[], None]:
    device = torch.device(device)
    if device.type == "cuda":
        return lambda: torch.cuda.synchronize(device)
    return lambda: None


@dataclass
class Timings:
    """Seconds per call, per contender and round, on two clocks.

    ``wall`` is elapsed time; ``cpu`` is this process's CPU time (all its threads), which other
    processes on a shared machine barely disturb. Ratios use ``clock``: CPU time on the CPU (where
    the work is all computation in this process), wall time on CUDA (where the CPU mostly waits)."""

    wall: dict[str, list[float]]
    cpu: dict[str, list[float]]
    clock: str = "cpu"

    @property
    def primary(self) -> dict[str, list[float]]:
        return self.cpu if self.clock == "cpu" else self.wall

    @property
    def rounds(self) -> int:
        return max(len(v) for v in self.wall.values())

    def median(self, name: str, clock: str = "wall") -> float:
        return median((self.wall if clock == "wall" else self.cpu)[name])

    def ratio(self, a: str, b: str, clock: str | None = None) -> float:
        """Median over rounds of ``t_a / t_b`` measured in the same round."""
        times = self.primary if clock is None else (self.wall if clock == "wall" else self.cpu)
        return median([x / y for x, y in zip(times[a], times[b])])

    def ratios(self, a: str, b: str) -> list[float]:
        return [x / y for x, y in zip(self.primary[a], self.primary[b])]


def interleaved(contenders: dict[str, Callable[[], object]], *, repeats: int = 5, min_repeats: int = 3,
                budget_s: float | None = None, warmup: int = 1, device="cpu",
                limit_rounds: dict[str, int] | None = None, round_estimate_s: float | None = None) -> Timings:
    """Time each contender once per round, in an order rotated by one each round, after ``warmup``
    untimed rounds. With ``budget_s`` the number of rounds is cut so the timed part lasts about that
    long (never fewer than ``min_repeats``, never more than ``repeats``).

    ``round_estimate_s`` replaces the warm-up's timing for the budget (with ``warmup=0``).
    ``limit_rounds={name: n}`` runs an expensive reference only in the first ``n`` rounds (and not in
    the warm-up: it shares its weights with the others, which warm them); ratios against it use those
    rounds only."""
    sync = synchronizer(device)
    names = list(contenders)
    limit_rounds = limit_rounds or {}
    round_time = None
    for _ in range(warmup):
        start = time.perf_counter()
        for name in names:
            if name not in limit_rounds:
                contenders[name]()
        sync()
        round_time = time.perf_counter() - start
    round_time = round_estimate_s or round_time
    if budget_s is not None and round_time:
        repeats = max(min_repeats, min(repeats, int(budget_s / max(round_time, 1e-9))))
    wall: dict[str, list[float]] = {name: [] for name in names}
    cpu: dict[str, list[float]] = {name: [] for name in names}
    gc.collect()
    gc.freeze()  # what exists now is never garbage: later collections (each round) stay cheap
    try:
        _rounds(contenders, names, repeats, limit_rounds, sync, wall, cpu)
    finally:
        gc.unfreeze()
    return Timings(wall, cpu, clock="wall" if torch.device(device).type == "cuda" else "cpu")


def rotated(names: list[str], r: int) -> list[str]:
    """The order of round ``r``: ``names`` rotated by ``r``, so no contender always runs first."""
    return names[r % len(names):] + names[: r % len(names)]


def _rounds(contenders, names, repeats, limit_rounds, sync, wall, cpu) -> None:
    for r in range(repeats):
        gc.collect()
        order = rotated(names, r)
        for name in order:
            if r >= limit_rounds.get(name, repeats):
                continue
            sync()
            c0, t0 = time.process_time(), time.perf_counter()
            contenders[name]()
            sync()
            wall[name].append(time.perf_counter() - t0)
            cpu[name].append(time.process_time() - c0)


def median(values) -> float:
    return float(statistics.median(values))


def spread(values) -> float:
    """Relative half-range of the middle half (a robust +- for a median)."""
    if len(values) < 3:
        return float("nan")
    q = statistics.quantiles(values, n=4)
    return float((q[2] - q[0]) / 2 / statistics.median(values))


# ---------------------------------------------------------------------------------------------- texts
_DOCSTRING = re.compile(r'"""(.{300,6000}?)"""', re.S)


@lru_cache(maxsize=1)
def corpus_paragraphs() -> tuple[str, ...]:
    """English prose found offline on every machine: the long docstrings of the Python standard library
    (triple-quoted strings read as text, nothing imported), in sorted file order, so the same Python
    gives the same texts."""
    stdlib = Path(sysconfig.get_paths()["stdlib"])
    out: list[str] = []
    for path in sorted(stdlib.glob("*.py")):
        try:
            source = path.read_text(encoding="utf-8", errors="ignore")
        except OSError:
            continue
        for match in _DOCSTRING.finditer(source):
            doc = " ".join(match.group(1).split())
            if len(doc) >= 300 and doc.isascii() and "\\" not in doc:
                out.append(doc)
        if len(out) >= 400:
            break
    if not out:  # pragma: no cover - a Python without its sources
        out = [" ".join(["The quick brown fox jumps over the lazy dog."] * 20)] * 10
    return tuple(out)


def long_text(min_chars: int, offset: int = 0) -> str:
    paragraphs = corpus_paragraphs()
    parts, total, i = [], 0, offset
    while total < min_chars:
        p = paragraphs[i % len(paragraphs)]
        parts.append(p)
        total += len(p) + 1
        i += 1
    return "\n".join(parts)


def text_with_tokens(tokenizer, n: int, offset: int = 0) -> str:
    """A text that the tokenizer reads as exactly ``n`` tokens (BOS included) when it can, else the nearest."""
    base = long_text(n * 12 + 200, offset)
    ids = tokenizer(base, add_special_tokens=False)["input_ids"]
    if len(ids) < n:
        base = long_text(n * 40 + 200, offset)
        ids = tokenizer(base, add_special_tokens=False)["input_ids"]
    has_bos = len(tokenizer("a", add_special_tokens=True)["input_ids"]) > len(tokenizer("a", add_special_tokens=False)["input_ids"])
    want = n - (1 if has_bos else 0)
    best = None
    for m in range(want, max(0, want - 8), -1):
        text = tokenizer.decode(ids[:m]).strip()
        got = len(tokenizer(text, add_special_tokens=True)["input_ids"])
        if got == n:
            return text
        if best is None or abs(got - n) < abs(best[0] - n):
            best = (got, text)
    return best[1]


def different_texts(tokenizer, count: int, n_tokens: int) -> list[str]:
    """``count`` different texts of about ``n_tokens`` tokens each."""
    paragraphs = corpus_paragraphs()
    out = []
    for i in range(count):
        text = paragraphs[(i * 7) % len(paragraphs)]
        ids = tokenizer(text, add_special_tokens=False)["input_ids"][: max(1, n_tokens - 1)]
        out.append(tokenizer.decode(ids).strip() or f"text {i}")
    return out


# ---------------------------------------------------------------------------------------------- scopes
@dataclass
class Subject:
    """The scope benchmarked and how it was made (for the record)."""

    scope: object
    description: str
    tiny: bool = False


def default_subject(device: str = "cpu") -> Subject:
    """The embedded Gemma 3 270M with the bundled SAE when it exists, else a random 16k SAE at layer 6."""
    import scope_widgets as sw
    from scope_widgets.engine.models import load_default_model
    from scope_widgets.scope import DEFAULT_SAE_DIR

    if (DEFAULT_SAE_DIR / "params.safetensors").exists():
        scope = sw.Scope.load(device=device)
        sae = scope.sae
        return Subject(scope, f"Gemma 3 270M (embedded, float32) + bundled SAE {sae.name} ({sae.d_in}x{sae.d_sae}, layer {sae.layer})")
    model, tokenizer = load_default_model(device)
    hidden = model.config.hidden_size
    sae = sw.SAE.random(hidden, 16384, layer=6, device=device)
    scope = sw.Scope(model, tokenizer, sae)
    return Subject(scope, f"Gemma 3 270M (embedded, float32) + SAE.random({hidden}, 16384, layer=6): the bundled SAE is not there yet")


@lru_cache(maxsize=4)
def char_tokenizer(vocab_size: int | None = None):
    """One token per printable character, BOS first like Gemma's: for random models that have no tokenizer.

    ``vocab_size`` pads the vocabulary with filler tokens (``<tok123>``) so that any id a random model of
    that vocabulary generates decodes to something."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors
    from transformers import PreTrainedTokenizerFast

    specials = ["<pad>", "<eos>", "<bos>", "<unk>"]
    tokens = specials + list(string.printable)
    if vocab_size is not None and vocab_size > len(tokens):
        tokens += [f"<tok{i}>" for i in range(len(tokens), vocab_size)]
    vocab = {tok: i for i, tok in enumerate(tokens)}
    core = Tokenizer(models.WordLevel(vocab, unk_token="<unk>"))
    core.pre_tokenizer = pre_tokenizers.Split("", behavior="isolated")
    core.decoder = decoders.Fuse()
    core.post_processor = processors.TemplateProcessing(single="<bos> $A", special_tokens=[("<bos>", 2)])
    return PreTrainedTokenizerFast(tokenizer_object=core, bos_token="<bos>", eos_token="<eos>", pad_token="<pad>",
                                   unk_token="<unk>")


def tiny_subject(d_sae: int = 256, layers: int = 4, hidden: int = 64, seed: int = 0) -> Subject:
    """A random 4-layer Gemma 3 with a character tokenizer and a random SAE at layer 1: runs in milliseconds."""
    import scope_widgets as sw
    from transformers import Gemma3ForCausalLM, Gemma3TextConfig

    tokenizer = char_tokenizer()
    config = Gemma3TextConfig(
        vocab_size=len(tokenizer), hidden_size=hidden, intermediate_size=2 * hidden, num_hidden_layers=layers,
        num_attention_heads=2, num_key_value_heads=1, head_dim=16, max_position_embeddings=4096,
        sliding_window=32, pad_token_id=0, eos_token_id=1, bos_token_id=2,
    )
    torch.manual_seed(seed)
    model = Gemma3ForCausalLM(config).eval()
    model.generation_config.pad_token_id = 0
    sae = sw.SAE.random(hidden, d_sae, layer=1, seed=seed)
    return Subject(sw.Scope(model, tokenizer, sae), f"tiny random Gemma 3 ({layers} layers, hidden {hidden}) + SAE.random({hidden}, {d_sae}, layer=1)", tiny=True)


# ---------------------------------------------------------------------------------------------- the floor
def _stack_owner(model):
    """The module that owns the decoder stack (``model.model`` or ``model.model.language_model``)."""
    from scope_widgets.engine import hooks

    stack = hooks.decoder_layers(model)
    for module in model.modules():
        if getattr(module, "layers", None) is stack:
            return module, stack
    raise RuntimeError("could not find the module that owns the decoder layers")


@contextmanager
def truncated(model, last_layer: int) -> Iterator[torch.nn.Module]:
    """Within the block, the model's base (decoder stack owner) runs layers ``0..last_layer`` only and
    skips its final norm: the least work any tool must do to read layer ``last_layer``."""
    owner, stack = _stack_owner(model)
    norm = getattr(owner, "norm", None)
    owner.layers = torch.nn.ModuleList(list(stack)[: last_layer + 1])
    if norm is not None:
        owner.norm = torch.nn.Identity()
    try:
        yield owner
    finally:
        owner.layers = stack
        if norm is not None:
            owner.norm = norm


def floor_fn(scope, input_ids: torch.Tensor) -> Callable[[], torch.Tensor]:
    """The floor of ``scope.features``: forward through layers 0..L of the primary SAE alone, then the
    bare encoder matmul ``x @ W_enc + b_enc``. Nothing else: no hooks, no JumpReLU, no top-k, no tokenizer."""
    sae = scope.sae
    from scope_widgets.engine import hooks

    layer = hooks.parse_hook_point(sae.hook_point_in).layer
    if hooks.parse_hook_point(sae.hook_point_in).submodule:
        raise ValueError("the floor is defined for SAEs that read a decoder layer's output")
    w_enc, b_enc = sae.W_enc.detach(), sae.b_enc.detach()

    def run() -> torch.Tensor:
        with torch.no_grad(), truncated(scope.model, layer) as base:
            x = base(input_ids=input_ids, use_cache=False).last_hidden_state[0]
            return torch.addmm(b_enc, x.to(w_enc.dtype), w_enc)

    return run


def full_forward_fn(scope, input_ids: torch.Tensor) -> Callable[[], object]:
    """What a naive hook-based tool pays: the whole model, logits included."""

    def run():
        with torch.no_grad():
            return scope.model(input_ids=input_ids, use_cache=False).logits

    return run


def fmt_s(seconds: float) -> str:
    if seconds != seconds:
        return "n/a"
    if seconds >= 1:
        return f"{seconds:.2f} s"
    if seconds >= 1e-3:
        return f"{seconds * 1e3:.1f} ms"
    return f"{seconds * 1e6:.0f} us"
