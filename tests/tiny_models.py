"""Tiny random Gemma 3 models and a character-level tokenizer for fast engine tests (no downloads)."""

from __future__ import annotations

import string
from functools import lru_cache

import torch

SPECIALS = ["<pad>", "<eos>", "<bos>", "<unk>"]
CHARS = list(string.printable)  # letters, digits, punctuation, whitespace


@lru_cache(maxsize=1)
def char_tokenizer():
    """One token per character; BOS first, like Gemma's tokenizer."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors
    from transformers import PreTrainedTokenizerFast

    vocab = {tok: i for i, tok in enumerate(SPECIALS + CHARS)}
    core = Tokenizer(models.WordLevel(vocab, unk_token="<unk>"))
    core.pre_tokenizer = pre_tokenizers.Split("", behavior="isolated")
    core.decoder = decoders.Fuse()
    core.post_processor = processors.TemplateProcessing(
        single="<bos> $A", pair="<bos> $A $B", special_tokens=[("<bos>", 2)]
    )
    return PreTrainedTokenizerFast(
        tokenizer_object=core, bos_token="<bos>", eos_token="<eos>", pad_token="<pad>", unk_token="<unk>"
    )


def tiny_text_config(layers: int = 4, hidden: int = 32, max_positions: int = 256):
    from transformers import Gemma3TextConfig

    return Gemma3TextConfig(
        vocab_size=len(SPECIALS) + len(CHARS),
        hidden_size=hidden,
        intermediate_size=2 * hidden,
        num_hidden_layers=layers,
        num_attention_heads=2,
        num_key_value_heads=1,
        head_dim=16,
        max_position_embeddings=max_positions,
        sliding_window=16,
        pad_token_id=0,
        eos_token_id=1,
        bos_token_id=2,
    )


def tiny_gemma(layers: int = 4, hidden: int = 32, seed: int = 0, max_positions: int = 256):
    """A random Gemma3ForCausalLM small enough to run in milliseconds, with its tokenizer."""
    from transformers import Gemma3ForCausalLM

    torch.manual_seed(seed)
    model = Gemma3ForCausalLM(tiny_text_config(layers, hidden, max_positions)).eval()
    model.generation_config.pad_token_id = 0
    return model, char_tokenizer()


def tiny_multimodal_gemma(layers: int = 3, hidden: int = 32, seed: int = 0):
    """A random Gemma3ForConditionalGeneration: text layers live under ``model.language_model.layers``."""
    from transformers import Gemma3Config, Gemma3ForConditionalGeneration, SiglipVisionConfig

    torch.manual_seed(seed)
    vision = SiglipVisionConfig(
        hidden_size=16, intermediate_size=32, num_hidden_layers=1, num_attention_heads=2,
        image_size=28, patch_size=14,
    )
    config = Gemma3Config(text_config=tiny_text_config(layers, hidden).to_dict(), vision_config=vision.to_dict(),
                          mm_tokens_per_image=4)
    model = Gemma3ForConditionalGeneration(config).eval()
    return model, char_tokenizer()


def hook_count(model) -> int:
    """How many forward hooks and pre-hooks are registered anywhere in the model."""
    return sum(len(m._forward_hooks) + len(m._forward_pre_hooks) for m in model.modules())
