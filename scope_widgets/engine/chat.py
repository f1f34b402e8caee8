"""Chat prompts: a list of messages to token ids with the tokenizer's chat template (Gemma's when it has none),
and which of those tokens belong to the template rather than to a message (so steering can leave them be).

Gemma's format (what Gemma 3's own template writes; a system message is folded into the first user turn)::

    <bos><start_of_turn>user
    {system}

    {user}<end_of_turn>
    <start_of_turn>model
    {assistant}<end_of_turn>
    <start_of_turn>model
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

__all__ = ["ROLES", "ChatPrompt", "check_messages", "gemma_format", "format_chat", "is_chat"]

ROLES = ("system", "user", "assistant")


@dataclass(frozen=True)
class ChatPrompt:
    """A formatted conversation: its text, token ids (BOS first) and the positions of template tokens."""

    text: str
    ids: list[int]
    template_positions: frozenset[int]  # tokens of the template (turn markers, role names), not of a message


def is_chat(prompt) -> bool:
    """Whether ``prompt`` is a list of messages rather than a plain string."""
    return not isinstance(prompt, str) and isinstance(prompt, Sequence)


def check_messages(messages) -> list[dict]:
    """``[{"role": "user" | "assistant" | "system", "content": str}, ...]``, or a clear error."""
    if isinstance(messages, str) or not isinstance(messages, Sequence) or not messages:
        raise ValueError('a chat prompt is a non-empty list of messages like [{"role": "user", "content": "Hi"}]')
    out = []
    for i, m in enumerate(messages):
        if not isinstance(m, Mapping) or "role" not in m or "content" not in m:
            raise ValueError(f'message {i} must be a dict with "role" and "content", got {m!r}')
        role = "assistant" if m["role"] == "model" else m["role"]
        if role not in ROLES:
            raise ValueError(f"message {i} has role {m['role']!r}: use one of {', '.join(ROLES)}")
        if not isinstance(m["content"], str) or (role != "assistant" and not m["content"].strip()):
            raise ValueError(f"message {i} ({role}) has no text: every user and system message needs some content")
        if role == "system" and i != 0:
            raise ValueError("a system message can only come first")
        out.append({"role": role, "content": m["content"]})
    turns = [m["role"] for m in out if m["role"] != "system"]
    if not turns or turns[-1] != "user":
        raise ValueError("the conversation must end with a user message: the model writes the next turn")
    if any(a == b for a, b in zip(turns, turns[1:])):
        raise ValueError(f"user and assistant turns must alternate, got {turns}")
    return out


def gemma_format(messages: list[dict], bos: str = "<bos>") -> str:
    """Gemma's chat format, for tokenizers that carry no template of their own."""
    parts = [bos]
    system = ""
    for m in messages:
        if m["role"] == "system":
            system = m["content"] + "\n\n"
            continue
        role = "model" if m["role"] == "assistant" else "user"
        content = (system + m["content"]) if role == "user" else m["content"]
        system = ""
        parts.append(f"<start_of_turn>{role}\n{content.strip()}<end_of_turn>\n")
    parts.append("<start_of_turn>model\n")
    return "".join(parts)


def format_chat(tokenizer, messages) -> ChatPrompt:
    """Format and tokenise a conversation, ready for the model to write the next (assistant) turn."""
    messages = check_messages(messages)
    if getattr(tokenizer, "chat_template", None):
        text = tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
    else:
        text = gemma_format(messages, tokenizer.bos_token or "")
    enc = tokenizer(text, add_special_tokens=False, return_offsets_mapping=True)
    ids, offsets = list(enc["input_ids"]), [tuple(o) for o in enc["offset_mapping"]]
    bos = getattr(tokenizer, "bos_token_id", None)
    if bos is not None and (not ids or ids[0] != bos):  # a template without BOS: the model still expects one
        ids, offsets = [bos] + ids, [(0, 0)] + offsets
    spans, cursor = [], 0
    for m in messages:  # where each message's own text sits in the formatted prompt
        content = m["content"].strip()
        start = text.find(content, cursor) if content else -1
        if start >= 0:
            spans.append((start, start + len(content)))
            cursor = start + len(content)
    template = frozenset(i for i, (a, b) in enumerate(offsets)
                         if not any(a < end and b > start for start, end in spans) or a == b)
    return ChatPrompt(text=text, ids=ids, template_positions=template)
