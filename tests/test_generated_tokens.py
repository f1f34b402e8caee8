"""Generated tokens with their probabilities: ``GenerationStream.tokens`` and ``panel.steered_tokens``."""

from __future__ import annotations

import math

import numpy as np
import torch

from scope_widgets.widgets import SteeringPanel
from factories import tiny_scope

PROMPT = "The cat sat"


def reference_probs(scope, prompt: str, steer=None, penalty: float = 1.1) -> tuple[list[int], list[float]]:
    """Greedy decoding by hand: each step's argmax after the repetition penalty (the logits of tokens already
    in the text divided by it where positive, multiplied where negative) and the model's own softmax
    probability of that token, before the penalty."""
    ids = scope.tokenizer(prompt, return_tensors="pt").input_ids
    chosen, probs = [], []
    ctx = scope.steer(steer) if steer else torch.no_grad()
    with ctx, torch.no_grad():
        for _ in range(6):
            logits = scope.model(input_ids=ids).logits[0, -1].float()
            p = torch.softmax(logits, -1)
            seen = ids[0].unique()
            penalised = logits.clone()
            penalised[seen] = torch.where(logits[seen] > 0, logits[seen] / penalty, logits[seen] * penalty)
            t = int(penalised.argmax())
            chosen.append(t)
            probs.append(float(p[t]))
            ids = torch.cat([ids, torch.tensor([[t]])], dim=1)
    return chosen, probs


def test_stream_tokens_carry_the_models_probabilities():
    scope = tiny_scope()
    stream = scope.stream(PROMPT, max_new_tokens=6)
    text = stream.wait()
    ids, probs = reference_probs(scope, PROMPT)
    assert "".join(t for t, _ in stream.tokens) == text and len(stream.tokens) == 6
    np.testing.assert_allclose([p for _, p in stream.tokens], probs, rtol=1e-4)
    assert [t for t, _ in stream.tokens] == scope.tokenizer.batch_decode([[i] for i in ids])
    written = {}
    for penalty in (1.0, 2.0):  # off, and strong enough to change what the tiny model writes
        other = scope.stream(PROMPT, max_new_tokens=6, repetition_penalty=penalty)
        other.wait()
        written[penalty], expected = reference_probs(scope, PROMPT, penalty=penalty)
        np.testing.assert_allclose([p for _, p in other.tokens], expected, rtol=1e-4)
    assert written[1.0] != written[2.0]


def test_steered_tokens_are_the_steered_models_probabilities():
    scope = tiny_scope()
    fid = int(scope.features(PROMPT).top(1)[0][0])
    steer = {fid: 8.0}
    stream = scope.stream(PROMPT, steer=steer, max_new_tokens=6)
    stream.wait()
    _, probs = reference_probs(scope, PROMPT, steer)
    np.testing.assert_allclose([p for _, p in stream.tokens], probs, rtol=1e-4)


def test_the_panel_gives_token_probability_pairs_for_both_sides():
    scope = tiny_scope()
    fid = int(scope.features(PROMPT).top(1)[0][0])
    panel = SteeringPanel(scope, PROMPT, features=[fid], coefficients={fid: 8.0}, max_new_tokens=6, auto_generate=False)
    panel.generate(wait=True)
    for side in ("baseline", "steered"):
        pairs = getattr(panel, f"{side}_tokens")
        assert len(pairs) == 6 and "".join(t for t, _ in pairs) == getattr(panel, f"{side}_text")
        assert all(0 < p <= 1 and math.isfinite(p) for _, p in pairs)
        assert len(getattr(panel, f"{side}_probs")) == 4 * 6  # float32 bytes on the wire
    baseline = panel.baseline_tokens
    panel.coefficients = {fid: 0.0}  # the cached baseline comes back with its tokens; steered = baseline
    panel.wait()
    assert panel.baseline_tokens == baseline and panel.steered_tokens == baseline
