"""SteeringPanel: one slider per feature, baseline and steered generations side by side, streamed."""

from __future__ import annotations

from typing import Any, Iterable

import traitlets

from ._base import ScopeWidget
from ._dashboard import fill_feature_max
from .wire import gather_labels
from ._steering import SteeringTraits, chat_messages
from ._traits import coefficients_trait
from ..engine.chat import check_messages, is_chat
from ..runtime import check_text
from ..steering import Direction


class SteeringPanel(SteeringTraits, ScopeWidget):
    """Steer ``scope``'s generation from ``prompt`` with the SAE features ``features`` (feature ids, or concept
    directions from ``scope.direction(...)``, which get negative ids -1, -2, ... in ``coefficients``).

    One native range slider per feature (range about +/-3x the feature's typical maximum activation),
    the method (``add``, ``clamp``, ``ablate``), max tokens, temperature, repetition penalty and seed. Generation runs in a
    worker thread and streams into ``baseline_text`` and ``steered_text``; a newer coefficient cancels
    the stale generation; the baseline is cached per prompt and settings.

    ``prompt`` may be a chat, ``[{"role": "user", "content": "..."}, ...]``, formatted with the tokenizer's chat
    template (Gemma's when it has none); ``panel.say("...")`` (or the chat box) adds a turn, and the steered
    and unsteered sides each continue their own conversation. The template's own tokens are left unsteered
    unless ``steer_template=True``.

    Synced traits: ``coefficients`` ({feature id: coefficient}; assign a new dict), ``method``, ``positions``,
    ``baseline_text``, ``steered_text``, ``status``, ``prompt``, ``chat``, ``steer_template``,
    ``max_new_tokens``, ``temperature``, ``seed``, ``repetition_penalty`` (1.1 by default, 1.0 for none; pass it
    as a keyword like the others); ``baseline_tokens`` / ``steered_tokens`` give each
    generated token's ``(text, probability)``.
    """

    view = traitlets.Unicode("steering").tag(sync=True)
    coefficients = coefficients_trait()
    labels = traitlets.Dict().tag(sync=True)
    feature_max = traitlets.Dict().tag(sync=True)

    def __init__(self, scope: Any, prompt, features: Iterable[int] = (), *, coefficients: dict | None = None,
                 method: str = "add", max_new_tokens: int = 40, temperature: float = 0.0, seed: int | None = None,
                 auto_generate: bool = True, steer_template: bool = False, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.scope = scope
        chat = check_messages(prompt) if is_chat(prompt) else []
        prompt = "" if chat else check_text(prompt, "the prompt")
        self.directions: dict[int, Direction] = {}  # negative id -> concept direction
        ids = []
        for f in features:
            if isinstance(f, Direction):
                fid = -1 - len(self.directions)
                self.directions[fid] = f
                ids.append(fid)
            else:
                ids.append(int(f))
        coefs = {f: 0.0 for f in ids}
        coefs.update({int(f): float(c) for f, c in (coefficients or {}).items()})
        with self.hold_sync():
            self.prompt = prompt
            self.chat = chat
            self.steer_template = steer_template
            self.method = method
            self.max_new_tokens = max_new_tokens
            self.temperature = temperature
            self.seed = seed
            self.coefficients = coefs
            self.labels = {**gather_labels(scope, [f for f in coefs if f >= 0]),
                           **{str(i): f"direction: {d.name}" for i, d in self.directions.items()}}
            self.auto_generate = auto_generate
        self._init_steering(scope, "coefficients")
        self._fill_feature_max(list(coefs))
        self.observe(self._on_new_features, names="coefficients")

    def steer_targets(self, steer: dict) -> dict:
        """Negative ids are this panel's concept directions."""
        missing = [f for f in steer if f < 0 and f not in self.directions]
        if missing:
            raise ValueError(f"no concept direction has id {missing[0]} in this panel (directions: {sorted(self.directions)})")
        return {self.directions.get(f, f): c for f, c in steer.items()}

    # ------------------------------------------------------------------ chat
    def say(self, message: str, wait: bool = False, timeout: float | None = 120) -> None:
        """Add a user turn to the chat: each side keeps its own last reply and answers the message anew,
        steered and unsteered side by side (``wait=True`` blocks until both replies are written)."""
        message = check_text(message, "the message")
        if not self.chat:
            raise ValueError("this panel holds a plain prompt; to chat, make it with a list of messages, e.g. "
                             'SteeringPanel(scope, [{"role": "user", "content": "Hi"}], features=[...])')
        self.wait(timeout)  # the replies to the last turn, complete
        turns = [dict(t) for t in self.chat]
        if self.baseline_text or self.steered_text:
            turns.append({"role": "assistant", "baseline": self.baseline_text, "steered": self.steered_text})
        turns.append({"role": "user", "content": message})
        self.chat = turns  # starts both replies
        if wait:
            self.wait(timeout)

    def conversation(self, side: str = "steered") -> list[dict]:
        """The chat as ``side`` ("steered" or "baseline") had it, its latest reply included."""
        if side not in ("steered", "baseline"):
            raise ValueError(f"side is 'steered' or 'baseline', not {side!r}")
        messages = chat_messages(list(self.chat), side)
        reply = getattr(self, f"{side}_text")
        return messages + ([{"role": "assistant", "content": reply}] if reply else [])

    def _msg_say(self, content: dict, _buffers: list) -> None:
        self.say(str(content.get("text", "")))

    @property
    def features(self) -> list[int]:
        """The features with a slider."""
        return list(self.coefficients)

    def add_feature(self, feature: int, coefficient: float = 0.0) -> None:
        """Add a slider for ``feature`` (kept at its value when already there)."""
        feature = int(feature)
        if feature not in self.coefficients:
            self.coefficients = {**self.coefficients, feature: float(coefficient)}

    def _on_new_features(self, change: dict) -> None:
        new = [f for f in change["new"] if f not in (change["old"] or {})]
        if new:
            found = gather_labels(self.scope, [f for f in new if f >= 0])
            if found:
                self.labels = {**self.labels, **found}
            self._fill_feature_max(new)

    def remove_feature(self, feature: int) -> None:
        self.coefficients = {f: c for f, c in self.coefficients.items() if f != int(feature)}

    def _fill_feature_max(self, ids: list[int]) -> None:
        fill_feature_max(self, self.scope, [f for f in ids if f >= 0])
        if any(f < 0 for f in ids):  # directions: a tenth of a typical activation's norm (sliders span ~3x)
            scale = getattr(self.scope, "steering_scale", None)
            try:
                value = float(scale(None)) if callable(scale) else None
            except Exception:
                value = None
            if value:
                self.feature_max = {**self.feature_max, **{str(f): value for f in ids if f < 0}}

    def __repr__(self) -> str:
        what = f"chat of {len(self.chat)} turns" if self.chat else f"prompt={self.prompt!r}"
        return f"SteeringPanel({what}, coefficients={self.coefficients}, method={self.method!r})"
