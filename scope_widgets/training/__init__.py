"""Training SAEs: the recipe behind the bundled default and the lesson's train-your-own.

Files: ``config`` (TrainConfig, presets), ``activations`` (windows, collection, shards on disk),
``batchtopk`` (the SAE in training), ``kl`` (the KL fine-tune), ``fold`` (folding and saving),
``evaluate`` (metrics), ``recipe`` (end to end), ``__main__`` (the command line).

The recipe, step by step: documents become windows of ``ctx_len`` tokens starting with BOS; the model runs
up to the hooked layer (BOS and padding dropped: Gemma's BOS residual is ~15x larger than any other);
each dimension is standardised (one dimension of the residual stream carries most of the raw variance);
a BatchTopK SAE with AuxK trains on that; it becomes a JumpReLU with one threshold; an optional KL
fine-tune matches the model's next-token distribution; the standardisation is folded into the weights
and decoder rows scaled to unit norm, so the file is an ordinary Gemma Scope 2 JumpReLU on raw activations.
"""
from .activations import Activations, ActivationStore, collect_activations, make_windows
from .batchtopk import BatchTopKSAE, train_batchtopk
from .config import PRESETS, TrainConfig
from .evaluate import activation_metrics, evaluate, loss_recovered, meets_targets
from .fold import fold_standardisation, jumprelu_forward, save_sae
from .kl import finetune_kl
from .recipe import corpus_texts, train

__all__ = [
    "TrainConfig", "PRESETS", "Activations", "ActivationStore", "make_windows", "collect_activations", "BatchTopKSAE",
    "train_batchtopk", "finetune_kl", "fold_standardisation", "jumprelu_forward", "save_sae", "evaluate",
    "activation_metrics", "loss_recovered", "meets_targets", "train", "corpus_texts",
]
