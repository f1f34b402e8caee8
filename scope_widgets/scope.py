"""Scope: a language model, its tokenizer and the SAEs hooked into it.

``features`` reads SAE features per token (forward pass stopped at the deepest hooked layer);
``generate``, ``stream`` and ``steer`` run the model with features added, clamped or ablated.
Every bad input is refused before the model is touched, and every hook is removed in ``finally``.
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import contextmanager
from functools import partial
from pathlib import Path

import torch

from . import steering
from .engine import hooks
from .engine.models import DEFAULT_SAE_DIR, load_default_model, load_model
from .engine.tokens import encode, token_strings
from .features import extract
from .runtime import check_k, check_text, check_texts, in_batches
from .steering.generation import GenerationStream, merged, sampling_kwargs, seeded

MAX_NEW_TOKENS = 4096
#: How many tokens ``features`` reads on a CPU unless told otherwise: the model's global-attention layers
#: grow with the square of the length, and 32k tokens take minutes on two cores; this many take seconds.
CPU_TOKEN_LIMIT = 8192


def _load_sae(spec, device=None):
    """An SAE from an SAE object, a local folder, a ``(repo_id, folder)`` pair, or a SAELens SAE."""
    from scope_widgets.saes import SAE

    if isinstance(spec, SAE):
        return spec
    if isinstance(spec, (str, Path)):
        return SAE.from_pretrained(str(spec), device=device)
    if _is_pair(spec):
        return SAE.from_pretrained(spec[0], spec[1], device=device)
    if all(hasattr(spec, name) for name in ("W_enc", "W_dec", "b_enc", "b_dec")) and hasattr(spec, "cfg"):
        return SAE.from_saelens(spec)  # SAELens SAE objects, when the user has SAELens
    raise TypeError(
        f"cannot use {type(spec).__name__} as an SAE: pass an sw.SAE, a local folder, a (repo_id, folder) pair "
        "or a SAELens SAE"
    )


class Scope:
    """A model with SAEs hooked in. ``Scope.load()`` gives the embedded default, offline."""

    def __init__(self, model, tokenizer, sae=None, *, max_coefficient: float = steering.MAX_ABS_COEFFICIENT) -> None:
        self.model = model.eval()
        self.tokenizer = tokenizer
        self.max_coefficient = float(max_coefficient)
        self._layers = hooks.decoder_layers(model)
        specs = [] if sae is None else (list(sae) if isinstance(sae, (list, tuple)) and not _is_pair(sae) else [sae])
        self._saes = [self._attach(_load_sae(spec)) for spec in specs]
        names = [s.name for s in self._saes]
        if len(set(names)) != len(names):
            raise ValueError(f"two hooked SAEs share a name ({names}); give each a distinct name")

    # ------------------------------------------------------------------ construction
    @classmethod
    def load(cls, model: str | None = None, sae=None, device: str | torch.device | None = "auto", dtype=None,
             device_map: str | dict | None = None) -> "Scope":
        """Load a model and its SAEs.

        With no ``model`` this is the embedded default: Gemma 3 270M and the SAE bundled with the package,
        entirely offline. Otherwise ``model`` is a hub id or a local folder (loaded through transformers;
        bf16 on a GPU, float32 on the CPU unless ``dtype`` says otherwise) and ``sae`` an ``sw.SAE``, a
        list of them, a local SAE folder or a ``(repo_id, folder)`` pair. ``device_map="auto"`` spreads a
        model too big for one GPU over several; each SAE goes to the device of the layer it hooks.
        """
        if model is None:
            m, tok = load_default_model(device=device, dtype=dtype)
            if sae is None:
                if not (DEFAULT_SAE_DIR / "params.safetensors").exists():
                    raise FileNotFoundError(
                        f"the bundled default SAE is missing from {DEFAULT_SAE_DIR}; reinstall scope_widgets"
                    )
                sae = DEFAULT_SAE_DIR
        else:
            m, tok = load_model(model, device=device, dtype=dtype, device_map=device_map)
        return cls(m, tok, sae)

    def _attach(self, sae):
        """Check an SAE against the model and move it to the device of the layer it hooks."""
        n = len(self._layers)
        for hook in dict.fromkeys((sae.hook_point_in, sae.hook_point_out)):
            point = hooks.parse_hook_point(hook)
            if point.layer >= n:
                raise ValueError(
                    f"the SAE {sae.name!r} reads layer {point.layer}, but this model has {n} layers "
                    f"(0 to {n - 1}): was it made for another model ({sae.cfg.hub_model_id})?"
                )
            width = hooks.expected_width(self.model, hook)
            expected = sae.d_in if hook == sae.hook_point_in else sae.d_out
            if width is not None and width != expected:
                raise ValueError(
                    f"the SAE {sae.name!r} expects activations of width {expected} at {hook}, but this model's "
                    f"are {width} wide: it was made for {sae.cfg.hub_model_id or 'another model'}"
                )
        layer = self._layers[hooks.parse_hook_point(sae.hook_point_in).layer]
        device = next(layer.parameters()).device
        return sae.to(device)

    # ------------------------------------------------------------------ properties
    @property
    def sae(self):
        """The primary SAE (the first one given)."""
        if not self._saes:
            raise ValueError("this Scope has no SAE: pass one to Scope.load(..., sae=...) or add_sae()")
        return self._saes[0]

    @property
    def saes(self) -> list:
        return list(self._saes)

    @property
    def device(self) -> torch.device:
        return next(self.model.parameters()).device

    @property
    def n_layers(self) -> int:
        return len(self._layers)

    @property
    def max_tokens(self) -> int:
        config = hooks.text_config(self.model)
        return int(getattr(config, "max_position_embeddings", None) or 8192)

    def add_sae(self, sae) -> None:
        """Hook one more SAE; ``features(..., sae="all")`` reads them all in one forward pass."""
        sae = self._attach(_load_sae(sae))
        if any(s.name == sae.name for s in self._saes):
            raise ValueError(f"an SAE named {sae.name!r} is already hooked")
        self._saes.append(sae)

    def __repr__(self) -> str:
        names = ", ".join(s.name for s in self._saes) or "no SAE"
        model = getattr(self.model.config, "_name_or_path", type(self.model).__name__)
        return f"Scope({model!r}, {self.n_layers} layers, on {self.device}, SAEs: {names})"

    # ------------------------------------------------------------------ tokens
    def _encode(self, text: str, reserve: int = 0) -> tuple[list[int], bool]:
        """Token ids of ``text`` with BOS, cut (with a warning) to the model's context length."""
        return encode(self.tokenizer, text, self.max_tokens, warn=True, reserve=reserve)

    def token_strings(self, ids: Sequence[int]) -> list[str]:
        """Each token's own text (spaces and newlines kept, special tokens by name)."""
        return token_strings(self.tokenizer, ids)

    @property
    def _bos_id(self):
        return getattr(self.tokenizer, "bos_token_id", None)

    # ------------------------------------------------------------------ features
    def resolve_saes(self, sae) -> list:
        """The hooked SAEs that ``sae`` names: None (the primary one), a name, an index, an SAE or ``"all"``."""
        if sae is None:
            return [self.sae]
        if isinstance(sae, str) and sae == "all":
            if not self._saes:
                self.sae  # raises the clear error
            return list(self._saes)
        if isinstance(sae, int) and not isinstance(sae, bool):
            if not 0 <= sae < len(self._saes):
                raise ValueError(f"there is no SAE number {sae}: this Scope has {len(self._saes)}")
            return [self._saes[sae]]
        if isinstance(sae, str):
            for s in self._saes:
                if s.name == sae:
                    return [s]
            raise ValueError(f"no hooked SAE is named {sae!r}; hooked: {[s.name for s in self._saes]}")
        if any(sae is s for s in self._saes):
            return [sae]
        raise ValueError("that SAE is not hooked into this Scope: add it with scope.add_sae(sae)")

    def feature_token_limit(self, max_tokens: int | None = None) -> int:
        """How many tokens ``features`` reads: ``max_tokens`` when given (at most the model's context),
        else the model's context on a GPU and ``CPU_TOKEN_LIMIT`` on the CPU."""
        if max_tokens is not None:
            return min(check_k(max_tokens, "max_tokens"), self.max_tokens)
        return self.max_tokens if self.device.type != "cpu" else min(CPU_TOKEN_LIMIT, self.max_tokens)

    def features(self, text, *, k: int = 32, sae=None, batch_size: int = 8, max_tokens: int | None = None):
        """SAE features of ``text`` per token.

        ``text`` is a string (returns ``FeatureActivations``) or a list of strings (a list, batched).
        ``sae`` picks the SAE: None for the primary one, a name, an index, or ``"all"`` for a dict
        ``{name: FeatureActivations}`` of every hooked SAE, all from one forward pass that stops after the
        deepest hooked layer. ``k`` is how many features are kept per token (any feature stays exact
        through ``acts.feature(i)``). A longer text than ``feature_token_limit(max_tokens)`` (8,192 tokens on
        a CPU, the model's context on a GPU) is cut, with a warning that says how to read more; the forward
        pass can be interrupted (Ctrl-C, the kernel's stop button) and leaves the model as it was.
        """
        check_k(k)
        limit = self.feature_token_limit(max_tokens)
        if isinstance(text, str):
            return self._features_batch([check_text(text)], k, sae, limit)[0]
        if not isinstance(text, Sequence) or not text:
            raise ValueError("features() takes a string or a non-empty list of strings")
        texts = [check_text(t, f"text {i}") for i, t in enumerate(text)]
        return in_batches(lambda chunk: self._features_batch(chunk, k, sae, limit), texts, batch_size, desc="features")

    def _features_batch(self, texts: list[str], k: int, sae, limit: int):
        saes = self.resolve_saes(sae)
        refs = {s.name: self._reference(s) for s in saes}
        per_text = extract(self.model, self.tokenizer, saes, texts, k, limit, refs, cut_hint=self.max_tokens if limit < self.max_tokens else None)
        return [per_sae if sae == "all" else per_sae[saes[0].name] for per_sae in per_text]

    def compare(self, text_a: str, text_b: str, k: int = 20, *, by: str = "max", sae=None) -> list[tuple[int, float, float]]:
        """The features that differ most between two texts: ``[(feature_id, activation_in_a, activation_in_b)]``,
        by the absolute difference of their maximum over each text (``by="mean"``: their mean), BOS excluded,
        largest first. Both texts are read in one batched forward pass."""
        from .features import compare

        a, b = self.features([check_text(text_a, "text_a"), check_text(text_b, "text_b")], sae=sae)
        return compare(a, b, k, by)

    def _reference(self, sae):
        """The SAE's usual per-feature levels from its shipped dashboards and the everyday background; for
        an SAE without them, a function that counts them on everyday text when a ranking first needs them."""
        from .analysis.sources import everyday_reference, reference_for

        return reference_for(sae, self.model, self.tokenizer) or partial(everyday_reference, self.model, self.tokenizer, sae)

    def attribute(self, text: str, position: int = -1, target=None, contrast=None, sae=None):
        """Why the model predicts ``target`` after token ``position`` of ``text``: the attribution of its logit
        (or of target - ``contrast``) to every active (position, feature) of every hooked SAE, from one forward
        and one backward pass (``attribution.Attribution``: ``top``, ``per_token``, ``feature``, ``error``,
        ``ablate``, ``faithfulness``). ``target`` defaults to the model's top prediction; ``sae`` names the
        primary SAE of the queries (default: this Scope's primary one)."""
        from .attribution import attribute

        first = self.resolve_saes(sae)[0]
        saes = [first] + [s for s in self._saes if s is not first]
        return attribute(self.model, self.tokenizer, saes, text, position, target, contrast,
                         self.feature_token_limit())

    # ------------------------------------------------------------------ dashboards, labels, search
    def dashboard(self, feature: int, sae=None):
        """Everything known about one feature: top examples, activation histogram, density, logit
        effects and label (``analysis.FeatureDashboardData``). Shipped for the default SAE, read from
        ``examples.safetensors`` for Gemma Scope 2 when present, else computed on a small corpus."""
        from .analysis import feature_dashboard

        return feature_dashboard(self.model, self.tokenizer, self.resolve_saes(sae)[0], feature)

    def dashboards(self, sae=None, progress: bool = True):
        """The SAE's dashboard source (``analysis.Dashboards`` or ``GemmaScopeExamples``), loaded once."""
        from .analysis import dashboards_for

        return dashboards_for(self.model, self.tokenizer, self.resolve_saes(sae)[0], progress=progress)

    def search(self, query: str | None = None, k: int = 10, *, examples: Sequence[str] | None = None,
               against: Sequence[str] | None = None, generate: bool = True, steer: bool = False, sae=None):
        """Features selective for a concept, best first (``SearchHit`` with ``.feature``, ``.score``, ``.label``).

        ``scope.search("dog")`` reads the word in neutral frames and in a few short texts the model writes
        about it (``generate=False`` skips those: faster, but finds fewer topic features) and scores each
        feature by how well it separates them from a built-in background (AUROC), plus up to half a point for
        how far apart the means are and bonuses for features that promote the word or fire on it in the corpus.
        ``scope.search(examples=[...], against=[...])`` scores the
        separation of your own texts (``against`` defaults to the background); ``hit.score`` is the AUROC
        (with ``against``, the mean of the AUROCs against it and against the background: a few texts let many
        features separate them by chance; ``hit.extra["auroc"]`` is the one against ``against`` alone).
        ``steer=True`` (with a word; about half a minute more on 2 CPU cores) puts first the candidates that, added to neutral
        text, make the word and its near neighbours likeliest (``hit.writes``), and tries the first few in
        greedy continuations: ``hit.steers``, ``hit.steer_coefficient`` (a good slider value).
        """
        from .analysis import feature_labels, search_word, separating

        target = self.resolve_saes(sae)[0]
        check_k(k)
        corpus = self.dashboards(target, progress=False)  # attaches the automatic labels (shipped, or computed once)
        labels = feature_labels(target)
        if examples is not None:
            if query is not None:
                raise ValueError("give a query word or examples=..., not both")
            if steer:
                raise ValueError("steer=True goes with a query word; to steer by examples use scope.direction(examples=[...])")
            texts = check_texts(examples, "examples", "example")
            negs = None if against is None else check_texts(against, "against", "counter-example")
            return separating(self.model, self.tokenizer, target, texts, negs, k, labels, corpus)
        if query is None:
            raise ValueError("search needs a query word (scope.search('dog')) or example texts (scope.search(examples=[...]))")
        if against is not None:
            raise ValueError("against= goes with examples=...; a query word is always compared with the built-in background")
        return search_word(self.model, self.tokenizer, target, check_text(query, "the query").strip(), k, generate, labels, steer,
                           corpus)

    def direction(self, concept: str | None = None, *, examples: Sequence[str] | None = None,
                  against: Sequence[str] | None = None, sae=None):
        """A concept direction for steering: the mean activation of texts about the concept minus that of
        ``against``, at the SAE's hook point, unit length.

        ``scope.direction("dog")`` uses the same texts as ``search("dog")`` against the same frames and texts
        about "everyday things" (so only the concept differs); ``examples=[...]`` your own texts, against
        ``against`` or by default the built-in background.
        Steer with it like a feature: ``scope.generate(p, steer={d: 0.1 * d.scale})``.
        """
        from .analysis import concept_direction
        from .analysis.search import concept_texts, neutral_texts

        target = self.resolve_saes(sae)[0]
        if examples is None:
            if concept is None:
                raise ValueError("direction needs a concept word or examples=[...]")
            frames, about = concept_texts(self.model, self.tokenizer, check_text(concept, "the concept").strip())
            examples, name = frames + about, concept.strip()
            if against is None:  # the same frames and kind of text about nothing in particular: only the concept differs
                neutral_frames, neutral_about = neutral_texts(self.model, self.tokenizer)
                against = neutral_frames + neutral_about
        else:
            examples = check_texts(examples, "examples", "example")
            name = concept or f"examples ({len(examples)} texts)"
        negs = None if against is None else check_texts(against, "against", "counter-example")
        return concept_direction(self.model, self.tokenizer, target, examples, negs, name=name)

    def steering_scale(self, feature: int | None = None, sae=None) -> float:
        """A typical size for a steering coefficient: the feature's usual maximum activation, but at least a
        tenth of a typical activation's norm at the hook point (the steering panel's sliders span about
        three times this). ``feature=None`` gives that tenth alone, the scale for concept directions."""
        from .analysis.search import steering_scale

        return steering_scale(self.model, self.tokenizer, self.resolve_saes(sae)[0], feature)

    def label(self, feature: int, sae=None) -> str | None:
        """A feature's label: the user's own if set, else the automatic one (or None)."""
        from .analysis import feature_labels

        return feature_labels(self.resolve_saes(sae)[0]).get(feature)

    def set_label(self, feature: int, text: str | None, sae=None) -> None:
        """Give a feature your own label (saved to disk, loaded back next time); None removes it."""
        from .analysis import feature_labels

        feature_labels(self.resolve_saes(sae)[0]).set(feature, text)

    # ------------------------------------------------------------------ steering and generation
    def _steering(self, steer, method: str, positions: str, sae):
        target = self.resolve_saes(sae)[0] if (steer or sae is not None) else None
        if target is None:
            return None, steering.validate(None, None, method, positions)
        return target, steering.validate(steer, target, method, positions, self.max_coefficient)

    @contextmanager
    def steer(self, steer, method: str = "add", positions: str = "all", sae=None):
        """Inside the block, every model call made by this thread is steered.

        ``steer`` is ``{feature_id: coefficient}`` (a list of ids for ``method="ablate"``). The hooks are
        removed on exit, whatever happens inside.
        """
        target, request = self._steering(steer, method, positions, sae)
        with steering.apply(self.model, target, request, skip_bos=self._bos_id is not None):  # empty: no hooks
            yield

    def _prepare_generation(self, prompt, steer, method, max_new_tokens, temperature, seed, positions, sae,
                            steer_template=False, repetition_penalty=steering.REPETITION_PENALTY):
        chat = self._chat(prompt)
        steering.check_sampling(max_new_tokens, temperature, seed, repetition_penalty, MAX_NEW_TOKENS)
        if max_new_tokens >= self.max_tokens:
            raise ValueError(
                f"max_new_tokens={max_new_tokens} leaves no room for the prompt: this model reads at most "
                f"{self.max_tokens} tokens in all"
            )
        target, request = self._steering(steer, method, positions, sae)
        if chat is None:
            ids, unsteered = self._encode(prompt, reserve=max_new_tokens)[0], frozenset()
        else:
            ids = chat.ids
            unsteered = frozenset() if steer_template else chat.template_positions
            if len(ids) + max_new_tokens > self.max_tokens:
                raise ValueError(f"the conversation is {len(ids)} tokens: with {max_new_tokens} new ones it passes the "
                                 f"model's {self.max_tokens}; drop early turns or ask for fewer tokens")
        input_ids = torch.tensor([ids], device=self.device)
        kwargs = dict(
            input_ids=input_ids,
            attention_mask=torch.ones_like(input_ids),
            **sampling_kwargs(self.tokenizer, max_new_tokens, float(temperature), float(repetition_penalty)),
        )

        @contextmanager
        def context():
            with seeded(seed, self.device), steering.apply(
                self.model, target, request, skip_bos=self._bos_id is not None, prompt_len=len(ids), unsteered=unsteered
            ):  # an empty request installs no hooks
                yield

        return kwargs, context

    def _chat(self, prompt):
        """None for a plain prompt (checked), else the formatted conversation (``engine.chat.ChatPrompt``)."""
        from .engine.chat import format_chat, is_chat

        if is_chat(prompt):
            return format_chat(self.tokenizer, prompt)
        check_text(prompt, "the prompt")
        return None

    def generate(self, prompt, steer=None, method: str = "add", max_new_tokens: int = 40,
                 temperature: float = 0.0, seed: int | None = None, positions: str = "all", sae=None,
                 steer_template: bool = False, repetition_penalty: float = steering.REPETITION_PENALTY) -> str:
        """The new text the model writes after ``prompt``, steered by ``steer`` (``{feature: coefficient}``).

        ``prompt`` is a string, or a chat: ``[{"role": "user", "content": "..."}, ...]``, formatted with the
        tokenizer's chat template (Gemma's when it has none); the template's own tokens (turn markers, role
        names) are left unsteered unless ``steer_template=True``. ``method`` is ``"add"``, ``"clamp"`` or
        ``"ablate"``; ``positions="generated"`` leaves the prompt's own positions unsteered.
        ``temperature=0`` is greedy; ``seed`` makes sampling reproducible; ``repetition_penalty`` (default 1.1,
        1.0 for none) keeps the small model from looping.
        """
        kwargs, context = self._prepare_generation(prompt, steer, method, max_new_tokens, temperature, seed, positions,
                                                   sae, steer_template, repetition_penalty)
        with context(), torch.no_grad():
            out = self.model.generate(**kwargs)
        return self.tokenizer.decode(out[0, kwargs["input_ids"].shape[1] :], skip_special_tokens=True)

    def stream(self, prompt, steer=None, method: str = "add", max_new_tokens: int = 40,
               temperature: float = 0.0, seed: int | None = None, positions: str = "all", sae=None,
               steer_template: bool = False, repetition_penalty: float = steering.REPETITION_PENALTY) -> GenerationStream:
        """Like ``generate``, but returns a ``GenerationStream``: iterate it for text pieces as they are
        generated (``.tokens`` holds each token's text and probability); call ``.cancel()`` from any thread
        to stop it. Bad arguments raise here, at once."""
        kwargs, context = self._prepare_generation(prompt, steer, method, max_new_tokens, temperature, seed, positions,
                                                   sae, steer_template, repetition_penalty)

        def run(extra: dict) -> None:
            with torch.no_grad():
                self.model.generate(**merged(kwargs, extra))

        return GenerationStream(run, self.tokenizer, context)


def _is_pair(value) -> bool:
    return isinstance(value, tuple) and len(value) == 2 and all(isinstance(v, str) for v in value)
