"""What a training run is: the configuration dataclass and the named presets."""
from __future__ import annotations

from dataclasses import dataclass

__all__ = ["TrainConfig", "PRESETS"]


@dataclass
class TrainConfig:
    layer: int = 9  # residual stream after decoder layer `layer` (model.layers.L.output)
    width: int = 16384
    k: int = 64  # BatchTopK: mean active features per token during training (the target L0)
    k_row_cap: int = 256  # a token keeps at most this many features in training (the batch top-k is taken among these)
    train_tokens: int = 1_000_000  # activations collected for training (BOS excluded)
    epochs: float = 2.0  # passes over the collected activations
    ctx_len: int = 256  # tokens per window, BOS included
    max_windows_per_doc: int = 4
    collect_batch: int = 16  # windows per forward pass while collecting
    collect_dtype: str = "float32"  # the model's dtype while collecting (bfloat16: ~2.5x faster on recent CPUs)
    shard_tokens: int = 65_536  # activations per file on disk (streamed, never all in memory)
    shuffle_shards: int = 4  # shards mixed together in one shuffle buffer
    batch_tokens: int = 4096  # SAE batch
    train_dtype: str = "float32"  # matmul dtype while training (bfloat16 autocast; weights and losses stay float32)
    lr: float = 8e-4
    warmup_steps: int = 50
    decay_frac: float = 0.3  # linear decay to 0 over the last part of training
    # Matryoshka (Bussmann et al., 2025): also reconstruct from the first m features alone, for each m here
    # (ascending, below width), so early features learn what is general; empty: plain BatchTopK
    matryoshka: tuple[int, ...] = ()
    aux_k: int = 256
    aux_coef: float = 1 / 32
    dead_tokens: int = 250_000  # a feature silent this long (in training tokens) counts as dead for AuxK
    standardise: bool = True  # per-dimension; False: one global scale (plain MSE on centred x)
    checkpoint_every: int = 50  # steps between checkpoints (resumable runs need a work folder)
    # KL fine-tune against the model's own next-token distribution (0 steps: skip)
    kl_steps: int = 0
    kl_batch: int = 8  # windows per step
    kl_ctx: int = 128
    kl_positions: int = 48  # positions per window where the 262k-vocab logits are computed
    kl_lr: float = 1e-4
    kl_mse_coef: float = 0.1
    kl_stop_after: int = 0  # stop after this many steps of the kl_steps schedule (0: run them all)
    kl_max_seconds: float = 0.0  # also stop after this long (0: no limit; not deterministic when set)
    # evaluation (held-out split)
    eval_tokens: int = 100_000  # for L0, dead fraction, FVE
    eval_ce_windows: int = 64
    eval_ce_positions: int = 4000
    # corpus
    corpus_sources: tuple[str, ...] | None = None  # None: every source of scope_widgets.corpus
    corpus_scale: float = 1.0
    generated_repeat: int = 1  # model-written documents count this many times (they are the scarcest prose)
    seed: int = 0
    device: str = "cpu"
    threads: int | None = None
    save_dtype: str = "float32"  # float32 | float16 | bfloat16 (loaders compute in float32)
    model_name: str = "google/gemma-3-270m"

    @property
    def hook_point(self) -> str:
        return f"model.layers.{self.layer}.output"


PRESETS: dict[str, dict] = {
    # "train your own": minutes on a laptop CPU
    "tiny": dict(
        layer=6,
        width=2048,
        k=32,
        train_tokens=120_000,
        epochs=2.0,
        batch_tokens=1024,
        warmup_steps=20,
        ctx_len=128,
        eval_tokens=20_000,
        eval_ce_windows=24,
        eval_ce_positions=1000,
        dead_tokens=60_000,
        shard_tokens=32_768,
        corpus_sources=("fortunes", "wordnet", "python_docstrings", "man_pages", "model_generated"),
        corpus_scale=0.15,
    ),
    # the bundled default (see docs/default_sae.md for what each choice gave)
    "default": dict(
        layer=9, width=16384, k=64, train_tokens=2_000_000, epochs=2.0, ctx_len=256, collect_dtype="bfloat16",
        train_dtype="bfloat16", batch_tokens=4096, lr=6e-4, warmup_steps=50, dead_tokens=1_000_000,
        eval_tokens=100_000, eval_ce_windows=32, eval_ce_positions=2000, kl_steps=200, kl_batch=4, kl_ctx=128,
        kl_positions=32, kl_max_seconds=0.0, generated_repeat=2, save_dtype="bfloat16", matryoshka=(128, 512, 2048, 8192),
    ),
}
