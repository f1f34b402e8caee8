"""Generation: plain and streamed, cancellable from any thread.

``GenerationStream`` runs ``model.generate`` in a worker thread of its own. Steering hooks are installed by
that worker (hooks are thread-scoped), so a steered stream never leaks into other model calls. Text pieces
arrive through a queue; ``cancel()`` stops generation after the current token.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, nullcontext

import torch

_DONE = object()


class IncrementalDecoder:
    """Turns a growing list of token ids into new text pieces, holding back incomplete characters."""

    def __init__(self, tokenizer) -> None:
        self.tokenizer = tokenizer
        self.ids: list[int] = []
        self.emitted = ""

    def push(self, ids) -> str:
        self.ids.extend(int(i) for i in ids)
        text = self.tokenizer.decode(self.ids, skip_special_tokens=True)
        if text.endswith("\ufffd"):  # a multi-byte character split across tokens: wait for the rest
            return ""
        piece = text[len(self.emitted) :] if text.startswith(self.emitted) else text
        self.emitted = text
        return piece


#: The default repetition penalty of generation (transformers' ``repetition_penalty``: the logits of tokens
#: already in the text are divided by it where positive, multiplied where negative). Gemma 3 270M loops under
#: greedy decoding, more so once steered; at 1.1 the default SAE's benchmark steers 11 of 27 concepts with
#: search's features and 16 with directions, against 8 and 13 without (docs/default_sae.md). 1.0 turns it off.
REPETITION_PENALTY = 1.1
MAX_REPETITION_PENALTY = 2.0


def check_sampling(max_new_tokens, temperature, seed, repetition_penalty, most_tokens: int) -> None:
    """Raise a ``ValueError`` that says what to give for a bad generation setting."""
    if isinstance(max_new_tokens, bool) or not isinstance(max_new_tokens, int) or not 1 <= max_new_tokens <= most_tokens:
        raise ValueError(f"max_new_tokens must be an integer from 1 to {most_tokens}, got {max_new_tokens!r}")
    if isinstance(temperature, bool) or not isinstance(temperature, (int, float)) or not 0 <= temperature <= 10 or temperature != temperature:
        raise ValueError(f"temperature must be a number from 0 (greedy) to 10, got {temperature!r}")
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
        raise ValueError(f"seed must be an integer or None, got {seed!r}")
    if (isinstance(repetition_penalty, bool) or not isinstance(repetition_penalty, (int, float))
            or not 1.0 <= repetition_penalty <= MAX_REPETITION_PENALTY):
        raise ValueError(f"repetition_penalty must be a number from 1.0 (off) to {MAX_REPETITION_PENALTY}, got "
                         f"{repetition_penalty!r}")


def sampling_kwargs(tokenizer, max_new_tokens: int, temperature: float,
                    repetition_penalty: float = REPETITION_PENALTY) -> dict:
    """``model.generate``'s settings. The repetition penalty is a logits processor of its own, so that a stream's
    probability recorder, put before it, keeps the model's own probabilities (see ``merged``)."""
    kwargs = {"max_new_tokens": int(max_new_tokens), "do_sample": temperature > 0}
    if repetition_penalty != 1.0:
        from transformers import RepetitionPenaltyLogitsProcessor

        kwargs["logits_processor"] = [RepetitionPenaltyLogitsProcessor(float(repetition_penalty))]
    if temperature > 0:
        kwargs.update(temperature=float(temperature), top_k=None, top_p=None)
    else:
        kwargs.update(temperature=None, top_k=None, top_p=None)
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
    kwargs["pad_token_id"] = pad
    return kwargs


def merged(kwargs: dict, extra: dict) -> dict:
    """``kwargs`` and a stream's ``extra`` for one ``model.generate`` call: the stream's logits processors
    (its probability recorder) run before those of ``kwargs`` (the repetition penalty)."""
    processors = [*extra.get("logits_processor", []), *kwargs.get("logits_processor", [])]
    return {**kwargs, **extra, **({"logits_processor": processors} if processors else {})}


def seeded(seed: int | None, device: torch.device) -> AbstractContextManager:
    """A context in which sampling is reproducible, without disturbing the caller's random state."""
    if seed is None:
        return nullcontext()
    devices = [device.index or 0] if device.type == "cuda" else []

    class _Seeded:
        def __enter__(self):
            self._fork = torch.random.fork_rng(devices=devices)
            self._fork.__enter__()
            torch.manual_seed(int(seed))

        def __exit__(self, *exc):
            return self._fork.__exit__(*exc)

    return _Seeded()


class _CancelCriteria:
    """A stopping criterion that ends generation once an event is set."""

    def __init__(self, event: threading.Event) -> None:
        self.event = event

    def __call__(self, input_ids, scores, **kwargs):
        return torch.full((input_ids.shape[0],), self.event.is_set(), dtype=torch.bool, device=input_ids.device)


class _ProbabilityRecorder:
    """A logits processor that keeps the log-probabilities of the current step: the model's own distribution
    (transformers runs the caller's processors before the sampling temperature, and the recorder comes before
    the repetition penalty; steering, being in the forward pass, is included). One row, replaced each step:
    memory does not grow with the generation."""

    def __init__(self) -> None:
        self.logprobs: torch.Tensor | None = None

    def __call__(self, input_ids, scores):
        self.logprobs = torch.log_softmax(scores[0].float(), dim=-1)
        return scores


class _QueueStreamer:
    """A transformers streamer: the first ``put`` is the prompt (skipped), then one token at a time."""

    def __init__(self, decoder: IncrementalDecoder, out: queue.Queue, stream: "GenerationStream",
                 recorder: _ProbabilityRecorder) -> None:
        self.decoder, self.out, self.stream, self.recorder = decoder, out, stream, recorder
        self.prompt_seen = False

    def put(self, value) -> None:
        if not self.prompt_seen:
            self.prompt_seen = True
            return
        ids = value.reshape(-1).tolist()
        self.stream.n_tokens += len(ids)
        if self.stream.first_token_at is None:
            self.stream.first_token_at = time.perf_counter()
        piece = self.decoder.push(ids)
        logprobs = self.recorder.logprobs
        prob = float(logprobs[ids[-1]].exp()) if logprobs is not None and len(ids) == 1 else float("nan")
        self.stream.tokens.append((piece, prob))  # the pieces add up to the text ("" while a character is split)
        if piece:
            self.out.put(piece)

    def end(self) -> None:
        pass


class GenerationStream:
    """Iterate for the new text, piece by piece. ``cancel()`` from any thread stops it early.

    Attributes after (or during) iteration: ``text`` (all pieces so far), ``tokens`` (one ``(text, probability)``
    pair per generated token: its text, ``""`` while a multi-byte character is split across tokens, and the
    probability the (steered) model gave it, before any sampling temperature), ``n_tokens``, ``cancelled``,
    ``started_at``, ``first_token_at`` and ``finished_at`` (``time.perf_counter()`` values).
    """

    def __init__(self, run: Callable[[dict], None], tokenizer, context: Callable[[], AbstractContextManager]) -> None:
        self._run = run  # run(generate_kwargs) calls model.generate
        self._context = context  # steering (and seeding) context, entered in the worker thread
        self._queue: queue.Queue = queue.Queue()
        self._decoder = IncrementalDecoder(tokenizer)
        self._cancel = threading.Event()
        self._thread: threading.Thread | None = None
        self._error: BaseException | None = None
        self.text = ""
        self.tokens: list[tuple[str, float]] = []
        self.n_tokens = 0
        self.started_at: float | None = None
        self.first_token_at: float | None = None
        self.finished_at: float | None = None

    @property
    def cancelled(self) -> bool:
        return self._cancel.is_set()

    def cancel(self) -> None:
        """Stop after the current token. Safe from any thread, any number of times."""
        self._cancel.set()

    def _worker(self) -> None:
        try:
            with self._context():
                recorder = _ProbabilityRecorder()
                self._run({"streamer": _QueueStreamer(self._decoder, self._queue, self, recorder),
                           "stopping_criteria": [_CancelCriteria(self._cancel)],
                           "logits_processor": [recorder]})
        except BaseException as err:  # handed to the consumer, raised there
            self._error = err
        finally:
            self.finished_at = time.perf_counter()
            self._queue.put(_DONE)

    def start(self) -> "GenerationStream":
        if self._thread is None:
            self.started_at = time.perf_counter()
            self._thread = threading.Thread(target=self._worker, name="scope-widgets-generate", daemon=True)
            self._thread.start()
        return self

    def __iter__(self) -> Iterator[str]:
        self.start()
        try:
            while True:
                item = self._queue.get()
                if item is _DONE:
                    break
                self.text += item
                yield item
        finally:  # a consumer that stops early (break, exception, close) cancels the work
            if self._thread is not None and self._thread.is_alive():
                self.cancel()
                self._thread.join()
        if self._error is not None:
            raise self._error

    def wait(self) -> str:
        """Consume the whole stream and return its text."""
        for _ in self:
            pass
        return self.text
