"""Hook points on Hugging Face decoder stacks: resolve, capture (with early stop) and edit.

Hook strings follow the HF module tree as Gemma Scope 2 writes them: ``model.layers.L.output`` is the
output of decoder layer L, ``model.layers.L.pre_feedforward_layernorm.output`` the output of that norm,
``model.layers.L.self_attn.o_proj.input`` the input of the attention output projection. The prefix before
``layers.L`` is not trusted: the decoder stack is found on the model itself, so the same string works on
text-only checkpoints (``model.layers``) and multimodal ones (``model.language_model.layers``).

Every hook here is a transaction: it is registered inside a context manager and removed in ``finally``,
so after any exception, KeyboardInterrupt included, the model is exactly the model it was. Hooks are also
*thread-scoped*: they act only on forward passes made by the thread that installed them, so a steered
generation running in a widget's worker thread never leaks into a cell the user runs meanwhile.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass

import torch
from torch import nn

_HOOK_RE = re.compile(r"^(?:.*\.)?layers\.(\d+)(?:\.(.+?))?\.(input|output)$")

# where decoder stacks live, most common first
_STACK_PATHS = (
    "model.layers",  # Gemma3ForCausalLM, Llama, Mistral, Qwen...
    "model.language_model.layers",  # Gemma3ForConditionalGeneration (transformers >= 4.52)
    "language_model.model.layers",  # older multimodal layout
    "model.language_model.model.layers",
    "language_model.layers",
    "layers",  # a bare decoder (Gemma3TextModel)
)


@dataclass(frozen=True)
class HookPoint:
    """A parsed hook string: decoder layer, sub-module path inside it ('' for the layer) and which side."""

    name: str  # the string as given
    layer: int
    submodule: str  # e.g. "pre_feedforward_layernorm", "self_attn.o_proj", or "" for the layer itself
    side: str  # "input" or "output"


def parse_hook_point(name: str) -> HookPoint:
    match = _HOOK_RE.match(name.strip()) if isinstance(name, str) else None
    if match is None:
        raise ValueError(
            f"cannot read the hook point {name!r}: expected a string like 'model.layers.5.output', "
            "'model.layers.5.pre_feedforward_layernorm.output' or 'model.layers.5.self_attn.o_proj.input'"
        )
    layer, sub, side = match.groups()
    return HookPoint(name=name, layer=int(layer), submodule=sub or "", side=side)


def decoder_layers(model: nn.Module) -> nn.ModuleList:
    """The model's stack of decoder layers (text layers for multimodal checkpoints)."""
    for path in _STACK_PATHS:
        try:
            stack = model.get_submodule(path)
        except AttributeError:
            continue
        if isinstance(stack, nn.ModuleList) and len(stack) > 0:
            return stack
    # fall back on the longest ModuleList named like a layer stack
    best = None
    for name, module in model.named_modules():
        if isinstance(module, nn.ModuleList) and name.split(".")[-1] in ("layers", "h", "blocks"):
            if best is None or len(module) > len(best):
                best = module
    if best is None:
        raise ValueError(
            f"could not find a stack of decoder layers in {type(model).__name__}: scope_widgets supports "
            "decoder-only models whose layers live in a ModuleList named 'layers' (Gemma, Llama, Mistral, Qwen...)"
        )
    return best


def text_config(model: nn.Module):
    config = getattr(model, "config", None)
    if config is not None and hasattr(config, "get_text_config"):
        return config.get_text_config()
    return config


def resolve(model: nn.Module, hook: str | HookPoint) -> tuple[nn.Module, HookPoint]:
    """The module a hook point refers to, with a clear error when it does not exist."""
    point = parse_hook_point(hook) if isinstance(hook, str) else hook
    layers = decoder_layers(model)
    if point.layer >= len(layers):
        raise ValueError(
            f"hook point {point.name!r} names layer {point.layer}, but the model has {len(layers)} "
            f"decoder layers (0 to {len(layers) - 1}): pick an SAE for a layer this model has"
        )
    layer = layers[point.layer]
    if not point.submodule:
        return layer, point
    try:
        return layer.get_submodule(point.submodule), point
    except AttributeError:
        children = sorted(n for n, _ in layer.named_modules() if n)
        raise ValueError(
            f"hook point {point.name!r}: decoder layer {point.layer} of {type(model).__name__} has no "
            f"sub-module {point.submodule!r}; it has: {', '.join(children)}"
        ) from None


def expected_width(model: nn.Module, hook: str | HookPoint) -> int | None:
    """The width of the activation at a hook point, when it can be known without running the model."""
    module, point = resolve(model, hook)
    if not point.submodule:
        config = text_config(model)
        return getattr(config, "hidden_size", None)
    if isinstance(module, nn.Linear):
        return module.in_features if point.side == "input" else module.out_features
    weight = getattr(module, "weight", None)
    if isinstance(weight, torch.Tensor) and weight.ndim == 1:  # a norm layer keeps the width
        return weight.numel()
    return None


def _first(value):
    """A decoder layer returns a tensor or a tuple (tensor, ...) depending on the transformers version."""
    return value[0] if isinstance(value, (tuple, list)) else value


def _replace_first(value, tensor):
    if isinstance(value, tuple):
        return (tensor,) + value[1:]
    if isinstance(value, list):
        return [tensor] + value[1:]
    return tensor


class StopForward(Exception):
    """Raised by a capture hook once everything asked for is captured: the rest of the model is skipped."""


def _register(module: nn.Module, side: str, fn: Callable[[torch.Tensor], torch.Tensor | None]):
    """Register ``fn(activation) -> replacement | None`` on one side of a module, for this thread only."""
    owner = threading.get_ident()

    if side == "output":

        def forward_hook(_module, _args, output):
            if threading.get_ident() != owner:
                return None
            new = fn(_first(output))
            return None if new is None else _replace_first(output, new)

        return module.register_forward_hook(forward_hook)

    def pre_hook(_module, args, kwargs):
        if threading.get_ident() != owner:
            return None
        if args:
            new = fn(args[0])
            return None if new is None else ((new,) + tuple(args[1:]), kwargs)
        key = next(iter(kwargs))  # called with keywords only: the first one is the input
        new = fn(kwargs[key])
        return None if new is None else (args, {**kwargs, key: new})

    return module.register_forward_pre_hook(pre_hook, with_kwargs=True)


@contextmanager
def edit_activations(model: nn.Module, hook: str, fn: Callable[[torch.Tensor], torch.Tensor | None]) -> Iterator[None]:
    """Within the block, every forward pass made by this thread replaces the activation at ``hook`` by
    ``fn(activation)`` (``None`` keeps it). The hook is removed on exit, whatever happens."""
    module, point = resolve(model, hook)
    handle = _register(module, point.side, fn)
    try:
        yield
    finally:
        handle.remove()


@contextmanager
def hooked(model: nn.Module, edits: Sequence[tuple[str, Callable[[torch.Tensor], torch.Tensor | None]]]) -> Iterator[None]:
    """Several ``edit_activations`` at once, all removed on exit."""
    with ExitStack() as stack:
        for hook, fn in edits:
            stack.enter_context(edit_activations(model, hook, fn))
        yield


def capture_activations(
    model: nn.Module,
    hook_points: Sequence[str],
    input_ids: torch.Tensor,
    attention_mask: torch.Tensor | None = None,
    stop_early: bool = True,
) -> dict[str, torch.Tensor]:
    """Run the model on ``input_ids [batch, seq]`` and return the activation at each hook point
    (``[batch, seq, d]``, detached). With ``stop_early`` the forward pass ends as soon as the last of
    them is captured: features at layer L never pay for the layers after L or for the unembedding."""
    wanted = list(dict.fromkeys(hook_points))
    if not wanted:
        raise ValueError("capture_activations needs at least one hook point")
    captured: dict[str, torch.Tensor] = {}

    def make_capture(name: str):
        def capture(tensor: torch.Tensor):
            captured[name] = tensor.detach()
            if stop_early and len(captured) == len(wanted):
                raise StopForward
            return None

        return capture

    with torch.no_grad(), hooked(model, [(name, make_capture(name)) for name in wanted]):
        try:
            model(input_ids=input_ids, attention_mask=attention_mask, use_cache=False)
        except StopForward:
            pass
    missing = [name for name in wanted if name not in captured]
    if missing:
        raise RuntimeError(f"the forward pass never reached the hook points {missing}")
    return captured


def capture_token_rows(model: nn.Module, hook_point: str, input_ids: torch.Tensor, attention_mask: torch.Tensor,
                       bos_id: int | None = None) -> torch.Tensor:
    """The activation at ``hook_point`` of every real token of a right-padded batch, BOS left out:
    ``[n, d]`` float32 on the CPU, rows in batch order. Position 0 is BOS when ``bos_id`` is None (windows
    that always start with it); otherwise only where the id there is ``bos_id``."""
    device = next(model.parameters()).device
    x = capture_activations(model, [hook_point], input_ids.to(device), attention_mask.to(device))[hook_point]
    keep = attention_mask.bool().clone()
    if bos_id is None:
        keep[:, 0] = False
    else:
        keep[:, 0] &= input_ids[:, 0] != bos_id
    return x[keep.to(x.device)].float().cpu()
