"""Check cells for the scope_widgets course.

Every check recomputes the right answer from the model and SAE in front of it (nothing is stored
here that a student could copy), compares it with the student's answer and prints a clear verdict
with a hint. A blank exercise (``None``) prints "not yet answered" instead of raising, so a lesson
runs from top to bottom before anything is filled in.

Each check returns True (right), False (wrong) or None (not answered yet).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import torch

# ---------------------------------------------------------------------------------------------------
# printing


def _not_answered(name: str) -> None:
    print(f"… not yet answered: fill in `{name}` in the exercise cell above, run it, then run this cell again.")
    return None


def _right(message: str) -> bool:
    print(f"✅ Correct! {message}")
    return True


def _wrong(message: str, hint: str) -> bool:
    print(f"❌ Not quite. {message}\n   Hint: {hint}")
    return False


def _as_array(value) -> np.ndarray:
    if isinstance(value, torch.Tensor):
        return value.detach().float().cpu().numpy()
    return np.asarray(value, dtype=np.float64)


def _as_float(value, name: str):
    """A Python float from a number, a 0-d/1-element tensor or array; None when it is not one."""
    try:
        arr = _as_array(value)
    except (TypeError, ValueError):
        return None
    if arr.size != 1:
        return None
    out = float(arr.reshape(()))
    return out if math.isfinite(out) else None


def _close(answer: float, truth: float, rtol: float, atol: float = 0.0) -> bool:
    return abs(answer - truth) <= max(atol, rtol * abs(truth))


# ---------------------------------------------------------------------------------------------------
# what the checks compute from the model (the same recipes the lessons teach)


def token_ids(scope, text: str) -> list[int]:
    """Token ids of ``text`` with BOS, as the Scope reads it."""
    return list(scope.tokenizer(text, add_special_tokens=True)["input_ids"])


def residual(scope, text: str) -> torch.Tensor:
    """The residual stream at the SAE's hook point, ``[n_tokens, d_model]`` float32 on the CPU."""
    from scope_widgets.engine.hooks import capture_activations

    ids = torch.tensor([token_ids(scope, text)], device=scope.device)
    hook = scope.sae.hook_point_in
    with torch.no_grad():
        acts = capture_activations(scope.model, [hook], ids)
    return acts[hook][0].float().cpu()


def _sae_features(sae, x: torch.Tensor) -> torch.Tensor:
    with torch.no_grad():
        return sae.encode(x.to(sae.W_enc.device, sae.W_enc.dtype)).float().cpu()


def _sae_reconstruct(sae, x: torch.Tensor) -> torch.Tensor:
    with torch.no_grad():
        x = x.to(sae.W_enc.device, sae.W_enc.dtype)
        return sae.decode(sae.encode(x), x).float().cpu()


def next_token_probs(scope, prompt: str, steer=None, method: str = "add") -> torch.Tensor:
    """The model's next-token distribution after ``prompt`` (``[vocab]``, float32), steered if asked."""
    ids = torch.tensor([token_ids(scope, prompt)], device=scope.device)
    with torch.no_grad(), scope.steer(steer, method=method):
        logits = scope.model(ids).logits[0, -1]
    return logits.float().softmax(-1).cpu()


def kl_divergence(p: torch.Tensor, q: torch.Tensor) -> float:
    """KL(p || q) in nats, for two probability vectors."""
    p, q = p.double(), q.double()
    mask = p > 0
    return float((p[mask] * (p[mask].log() - q[mask].clamp_min(1e-30).log())).sum())


def _decode(scope, token_id: int) -> str:
    return scope.tokenizer.decode([int(token_id)])


def _same_token(scope, answer, token_id: int) -> bool:
    """A token answer may be the id (int) or the token's text (exactly, or ignoring surrounding spaces)."""
    if isinstance(answer, (int, np.integer)) and not isinstance(answer, bool):
        return int(answer) == int(token_id)
    if isinstance(answer, str):
        text = _decode(scope, token_id)
        return answer == text or answer.strip() == text.strip()
    return False


# ---------------------------------------------------------------------------------------------------
# lesson 1: the residual stream


def check_n_tokens(scope, text: str, answer) -> bool | None:
    if answer is None:
        return _not_answered("n_tokens")
    truth = len(token_ids(scope, text))
    if isinstance(answer, (int, np.integer)) and not isinstance(answer, bool) and int(answer) == truth:
        return _right(f"the text is {truth} tokens long, BOS included.")
    if isinstance(answer, (int, np.integer)) and int(answer) == truth - 1:
        return _wrong("you are one short.", "the tokenizer adds a <bos> token at position 0: count it too.")
    return _wrong(f"{answer!r} is not the number of tokens.",
                  "len(scope.tokenizer(text)['input_ids']) counts them; BOS included.")


def check_norms(scope, text: str, answer) -> bool | None:
    if answer is None:
        return _not_answered("norms")
    truth = residual(scope, text).norm(dim=-1).numpy()
    try:
        got = _as_array(answer).reshape(-1)
    except (TypeError, ValueError):
        return _wrong("`norms` should be a list, array or tensor of numbers.", "resid.norm(dim=-1)")
    if got.shape != truth.shape:
        return _wrong(f"you have {got.size} norms, the text has {truth.size} tokens.",
                      "one norm per token: take the norm over the last dimension (dim=-1), not over tokens.")
    if np.allclose(got, truth, rtol=1e-3, atol=1e-3):
        return _right(f"position 0 (BOS) has norm {truth[0]:.0f}; the other tokens {truth[1:].min():.0f} to {truth[1:].max():.0f}.")
    if np.allclose(got, truth**2, rtol=1e-3):
        return _wrong("these are squared norms.", "the L2 norm is the square root of the sum of squares.")
    return _wrong("the values don't match the L2 norm of each token's residual vector.",
                  "resid has shape [n_tokens, d_model]; resid.norm(dim=-1) gives one number per token.")


def check_largest_norm_position(scope, text: str, answer) -> bool | None:
    if answer is None:
        return _not_answered("largest_position")
    norms = residual(scope, text).norm(dim=-1)
    truth = int(norms.argmax())
    if isinstance(answer, (int, np.integer, torch.Tensor)) and not isinstance(answer, bool) and int(answer) == truth:
        return _right(f"position {truth} ({scope.token_strings([token_ids(scope, text)[truth]])[0]!r}) has by far the largest norm.")
    return _wrong(f"position {answer!r} is not the largest.", "norms.argmax() gives the position of the largest norm.")


def check_bos_ratio(scope, text: str, answer) -> bool | None:
    if answer is None:
        return _not_answered("bos_ratio")
    got = _as_float(answer, "bos_ratio")
    if got is None:
        return _wrong("`bos_ratio` should be one number.", "norms[0] / norms[1:].median()")
    norms = residual(scope, text).norm(dim=-1)
    truth = float(norms[0] / norms[1:].median())
    if _close(got, truth, 0.02):
        return _right(f"BOS is about {truth:.0f} times larger than a typical token. That is why BOS is left out of "
                      "colour scales, statistics and SAE training.")
    mean_ratio = float(norms[0] / norms[1:].mean())
    if _close(got, mean_ratio, 0.02):
        return _wrong("that is the ratio to the mean; the exercise asks for the median.", "norms[1:].median()")
    if _close(got, float(norms[0] / norms.median()), 0.02):
        return _wrong("leave BOS itself out of the median.", "norms[1:] is every token but BOS.")
    return _wrong(f"{got:.2f} is not the ratio.", "divide the norm at position 0 by the median of the others.")


def check_l0(scope, text: str, position: int, answer) -> bool | None:
    if answer is None:
        return _not_answered("l0")
    f = _sae_features(scope.sae, residual(scope, text)[position])
    truth = int((f > 0).sum())
    if isinstance(answer, (int, np.integer, torch.Tensor)) and not isinstance(answer, bool) and int(answer) == truth:
        return _right(f"{truth} of {scope.sae.d_sae} features are active at position {position}: "
                      f"{truth / scope.sae.d_sae:.2%} of the dictionary, while all {scope.sae.d_in} dimensions of the residual are nonzero.")
    return _wrong(f"{answer!r} is not the number of active features.",
                  "encode the residual vector at that position with scope.sae.encode and count the entries > 0.")


def check_reconstruction(scope, text: str, position: int, answer) -> bool | None:
    if answer is None:
        return _not_answered("x_hat_manual")
    x = residual(scope, text)[position]
    truth = _sae_reconstruct(scope.sae, x)
    try:
        got = _as_array(answer).reshape(-1)
    except (TypeError, ValueError):
        return _wrong("`x_hat_manual` should be a vector.", "start from b_dec and add f[i] * W_dec[i] for each active i.")
    if got.shape != tuple(truth.shape):
        return _wrong(f"your vector has {got.size} entries, the residual has {truth.numel()}.",
                      "each feature contributes f[i] * W_dec[i], a vector of width d_model.")
    t = truth.numpy()
    if np.allclose(got, t, rtol=1e-3, atol=1e-3 * float(np.abs(t).max())):
        err = float((x - truth).norm() / x.norm())
        return _right(f"the sum of a few feature directions rebuilds the vector with a relative error of {err:.1%}.")
    no_bias = (truth - scope.sae.b_dec.detach().float().cpu()).numpy()
    if np.allclose(got, no_bias, rtol=1e-3, atol=1e-3 * float(np.abs(t).max())):
        return _wrong("you forgot the decoder bias.", "x_hat = b_dec + sum_i f[i] * W_dec[i]")
    return _wrong("that is not the SAE's reconstruction.", "x_hat = b_dec + sum over active i of f[i] * W_dec[i]")


def fraction_of_variance_explained(x: torch.Tensor, x_hat: torch.Tensor) -> float:
    """1 - sum ||x - x_hat||^2 / sum ||x - mean(x)||^2 over the rows of x."""
    x, x_hat = x.double(), x_hat.double()
    return float(1 - (x - x_hat).pow(2).sum() / (x - x.mean(0)).pow(2).sum())


def check_fve(scope, text: str, answer) -> bool | None:
    if answer is None:
        return _not_answered("fve")
    got = _as_float(answer, "fve")
    if got is None:
        return _wrong("`fve` should be one number.", "1 - ((x - x_hat)**2).sum() / ((x - x.mean(0))**2).sum()")
    x = residual(scope, text)[1:]
    truth = fraction_of_variance_explained(x, _sae_reconstruct(scope.sae, x))
    if _close(got, truth, 0.01, 1e-3):
        return _right(f"the SAE explains {truth:.1%} of the variance of this text's residual stream (BOS left out).")
    x_all = residual(scope, text)
    if _close(got, fraction_of_variance_explained(x_all, _sae_reconstruct(scope.sae, x_all)), 0.01, 1e-3):
        return _wrong("you kept BOS.", "use resid[1:]: BOS's huge norm would dominate the sum.")
    return _wrong(f"{got:.3f} is not it.", "x = resid[1:]; fve = 1 - ((x - x_hat)**2).sum() / ((x - x.mean(0))**2).sum()")


# ---------------------------------------------------------------------------------------------------
# lesson 2: reading features


def token_position(scope, text: str, token: str) -> int:
    """The first position whose token text is ``token`` (compared without surrounding spaces)."""
    tokens = scope.token_strings(token_ids(scope, text))
    for i, t in enumerate(tokens):
        if t.strip() == token.strip():
            return i
    raise ValueError(f"no token {token!r} in {tokens}")


def check_strongest_position(scope, text: str, feature: int, answer) -> bool | None:
    if answer is None:
        return _not_answered("strongest_position")
    acts = scope.features(text)
    values = acts.feature(feature)
    values[: acts.first_position] = -np.inf  # BOS does not count
    truth = int(values.argmax())
    if isinstance(answer, (int, np.integer)) and not isinstance(answer, bool) and int(answer) == truth:
        return _right(f"feature {feature} peaks at position {truth}, the token {acts.tokens[truth]!r}.")
    if isinstance(answer, (int, np.integer)) and 0 <= int(answer) < len(values) and values[int(answer)] == values[truth]:
        return _right(f"position {int(answer)} ties for the maximum.")
    return _wrong(f"position {answer!r} is not where feature {feature} is strongest.",
                  "acts.feature(f) gives its activation at every token; argmax over positions 1.. (skip BOS).")


def check_top_feature_at(scope, text: str, token: str, answer) -> bool | None:
    if answer is None:
        return _not_answered("feature_at_token")
    acts = scope.features(text)
    pos = token_position(scope, text, token)
    top = acts.top_at(pos, 5)
    if not top:
        return _wrong("no feature fires at that token at all.", "try another text")
    if isinstance(answer, (int, np.integer)) and not isinstance(answer, bool) and int(answer) == top[0][0]:
        return _right(f"feature {top[0][0]} is the strongest at {token!r} (activation {top[0][1]:.1f}).")
    ids = [i for i, _ in top]
    if isinstance(answer, (int, np.integer)) and int(answer) in ids:
        return _wrong(f"feature {int(answer)} fires there, but it is number {ids.index(int(answer)) + 1}, not the strongest.",
                      "acts.top_at(position, k=1)[0][0]")
    return _wrong(f"{answer!r} is not the strongest feature at {token!r}.",
                  "find the token's position in acts.tokens, then acts.top_at(position)[0][0].")


def check_max_activations(scope, feature: int, texts: Sequence[str], answer) -> bool | None:
    if answer is None:
        return _not_answered("max_acts")
    try:
        got = _as_array(answer).reshape(-1)
    except (TypeError, ValueError):
        return _wrong("`max_acts` should be a list of numbers, one per text.", "[scope.features(t).max_activation(f) for t in texts]")
    truth = np.array([a.max_activation(feature) for a in scope.features(list(texts))])
    if got.shape != truth.shape:
        return _wrong(f"you have {got.size} numbers for {truth.size} texts.", "one maximum per text")
    if np.allclose(got, truth, rtol=1e-3, atol=1e-3):
        fired = int((truth > 0).sum())
        return _right(f"feature {feature} fires on {fired} of {len(truth)} texts.")
    return _wrong("those are not the feature's maximum activations.", "scope.features(text).max_activation(feature), BOS excluded")


def check_top_logit_tokens(scope, feature: int, answer, n: int = 5) -> bool | None:
    if answer is None:
        return _not_answered("promoted")
    from scope_widgets.engine.unembed import logit_directions, unembedding

    with torch.no_grad():
        effect = (unembedding(scope.model).float() @ logit_directions(scope.model, scope.sae, [feature])[0]).cpu()
    truth = effect.topk(n).indices.tolist()
    if isinstance(answer, (str, int)) or not isinstance(answer, Sequence) and not isinstance(answer, (torch.Tensor, np.ndarray)):
        return _wrong(f"`promoted` should be a list of {n} tokens.", "effect.topk(5).indices, decoded")
    answer = answer.tolist() if isinstance(answer, (torch.Tensor, np.ndarray)) else list(answer)
    if len(answer) != n:
        return _wrong(f"give exactly {n} tokens, strongest first.", "effect.topk(5)")
    if all(_same_token(scope, a, t) for a, t in zip(answer, truth)):
        return _right(f"feature {feature} pushes up {[_decode(scope, t) for t in truth]}.")
    raw = (scope.model.get_output_embeddings().weight.detach().float() @ scope.sae.W_dec[feature].detach().float().to(scope.model.device)).cpu()
    if all(_same_token(scope, a, t) for a, t in zip(answer, raw.topk(n).indices.tolist())):
        return _wrong("close: you left out the final norm's gain.", "multiply W_dec[f] by (1 + scope.model.model.norm.weight) first.")
    return _wrong("those are not the most promoted tokens.", "effect = W_U @ (W_dec[f] * gain); effect.topk(5).indices, decoded")


# ---------------------------------------------------------------------------------------------------
# lesson 3: intervening


def check_kl(scope, prompt: str, steer: dict, answer, method: str = "add") -> bool | None:
    if answer is None:
        return _not_answered("kl")
    got = _as_float(answer, "kl")
    if got is None:
        return _wrong("`kl` should be one number.", "sum p * (log p - log q)")
    p = next_token_probs(scope, prompt)
    q = next_token_probs(scope, prompt, steer, method)
    truth = kl_divergence(p, q)
    if _close(got, truth, 0.02, 1e-4):
        return _right(f"KL(clean || steered) = {truth:.3f} nats.")
    if _close(got, kl_divergence(q, p), 0.02, 1e-4):
        return _wrong("that is KL(steered || clean), the other direction.", "KL(p || q) = sum p * (log p - log q) with p the clean distribution")
    return _wrong(f"{got:.4f} is not KL(clean || steered).", "p = clean probs, q = steered probs; (p * (p.log() - q.log())).sum()")


def check_biggest_gain(scope, prompt: str, steer: dict, answer, method: str = "add") -> bool | None:
    if answer is None:
        return _not_answered("biggest_gain")
    p = next_token_probs(scope, prompt)
    q = next_token_probs(scope, prompt, steer, method)
    diff = q - p
    truth = int(diff.argmax())
    if _same_token(scope, answer, truth):
        return _right(f"{_decode(scope, truth)!r} gains the most: {p[truth]:.2%} -> {q[truth]:.2%}.")
    if _same_token(scope, answer, int(q.argmax())):
        return _wrong("that is the most likely token after steering, not the one that gained most.", "(q - p).argmax()")
    return _wrong(f"{answer!r} is not the token whose probability rose most.", "(q - p).argmax(), then decode it")


def check_ablation_drop(scope, prompt: str, answer) -> bool | None:
    if answer is None:
        return _not_answered("drop")
    got = _as_float(answer, "drop")
    if got is None:
        return _wrong("`drop` should be one number.", "p_clean[top] - p_ablated[top]")
    acts = scope.features(prompt)
    feature = acts.top_at(acts.n_tokens - 1, 1)[0][0]
    p = next_token_probs(scope, prompt)
    top = int(p.argmax())
    q = next_token_probs(scope, prompt, [feature], "ablate")
    truth = float(p[top] - q[top])
    if _close(got, truth, 0.02, 1e-4):
        return _right(f"ablating feature {feature} moves p({_decode(scope, top)!r}) from {p[top]:.2%} to {q[top]:.2%}.")
    if _close(got, -truth, 0.02, 1e-4):
        return _wrong("the sign is flipped.", "drop = clean - ablated")
    return _wrong(f"{got:.4f} is not the drop.", "the feature is acts.top_at(last position, 1)[0][0]; drop = p_clean[top] - p_ablated[top]")


def check_flip_coefficient(scope, prompt: str, feature: int, grid: Sequence[float], answer, method: str = "add") -> bool | None:
    if answer is None:
        return _not_answered("flip_at")
    clean_top = int(next_token_probs(scope, prompt).argmax())
    truth = None
    for c in sorted(grid):
        if c == 0:
            continue
        if int(next_token_probs(scope, prompt, {feature: c}, method).argmax()) != clean_top:
            truth = c
            break
    if truth is None:
        if isinstance(answer, str) and answer.lower() == "none" or answer == float("inf"):
            return _right("no coefficient in the grid changes the top token.")
        return _wrong("no coefficient in this grid changes the top token.", "answer float('inf') (or try larger coefficients)")
    got = _as_float(answer, "flip_at")
    if got is not None and _close(got, truth, 1e-6, 1e-9):
        return _right(f"at {truth:g} the top token stops being {_decode(scope, clean_top)!r}.")
    return _wrong(f"{answer!r} is not the smallest coefficient that changes the top token.",
                  "loop over sorted(grid); compare the argmax of the steered distribution with the clean one.")


# ---------------------------------------------------------------------------------------------------
# lesson 4: make your own


def _params_encode(params: dict, x: torch.Tensor) -> torch.Tensor:
    p = {k: v.float().cpu() for k, v in params.items()}
    pre = x.float() @ p["w_enc"] + p["b_enc"]
    return torch.relu(pre) * (pre > p["threshold"])


def _encode_any(sae_or_params, x: torch.Tensor) -> torch.Tensor:
    if isinstance(sae_or_params, dict):
        return _params_encode(sae_or_params, x)
    return _sae_features(sae_or_params, x)


def _reconstruct_any(sae_or_params, x: torch.Tensor) -> torch.Tensor:
    if isinstance(sae_or_params, dict):
        p = {k: v.float().cpu() for k, v in sae_or_params.items()}
        return _params_encode(p, x) @ p["w_dec"] + p["b_dec"]
    return _sae_reconstruct(sae_or_params, x)


def check_mean_l0(sae_or_params, x: torch.Tensor, answer, name: str = "l0") -> bool | None:
    """Mean number of active features per token of an SAE (or a trainer's params dict) on ``x``."""
    if answer is None:
        return _not_answered(name)
    got = _as_float(answer, name)
    if got is None:
        return _wrong(f"`{name}` should be one number.", "(f > 0).sum(-1).float().mean()")
    x = x.float().cpu()
    truth = float((_encode_any(sae_or_params, x) > 0).sum(-1).float().mean())
    if _close(got, truth, 0.01, 1e-3):
        return _right(f"on average {truth:.1f} features are active per token.")
    return _wrong(f"{got:.2f} is not the mean L0.", "encode x, count the features > 0 on each token (sum over the last dim), then average over tokens")


def check_mean_fve(sae_or_params, x: torch.Tensor, answer, name: str = "fve") -> bool | None:
    """Fraction of variance of ``x`` explained by an SAE's (or params dict's) reconstruction."""
    if answer is None:
        return _not_answered(name)
    got = _as_float(answer, name)
    if got is None:
        return _wrong(f"`{name}` should be one number.", "1 - ((x - x_hat)**2).sum() / ((x - x.mean(0))**2).sum()")
    x = x.float().cpu()
    truth = fraction_of_variance_explained(x, _reconstruct_any(sae_or_params, x))
    if _close(got, truth, 0.01, 1e-3):
        return _right(f"the reconstruction explains {truth:.1%} of the variance.")
    return _wrong(f"{got:.4f} is not the FVE.", "x_hat = decode(encode(x)); fve = 1 - ((x - x_hat)**2).sum() / ((x - x.mean(0))**2).sum()")


def check_dead_fraction(sae_or_params, x: torch.Tensor, answer) -> bool | None:
    if answer is None:
        return _not_answered("dead")
    got = _as_float(answer, "dead")
    if got is None:
        return _wrong("`dead` should be one number between 0 and 1.", "(~(f > 0).any(0)).float().mean()")
    truth = float((~(_encode_any(sae_or_params, x.float().cpu()) > 0).any(0)).float().mean())
    if _close(got, truth, 0.01, 1e-3):
        return _right(f"{truth:.1%} of the features never fire on these tokens.")
    if _close(got, 1 - truth, 0.01, 1e-3):
        return _wrong("that is the fraction that fired at least once.", "dead means never active: 1 minus that")
    return _wrong(f"{got:.4f} is not the dead fraction.", "a feature is dead when it is 0 on every token: (~(f > 0).any(dim=0)).float().mean()")


def check_best_match(scope, params: dict, feature: int, answer) -> bool | None:
    if answer is None:
        return _not_answered("match")
    mine = params["w_dec"][feature].float().cpu()
    theirs = scope.sae.W_dec.detach().float().cpu()
    cos = (theirs @ mine) / (theirs.norm(dim=-1) * mine.norm()).clamp_min(1e-12)
    truth = int(cos.argmax())
    if isinstance(answer, (int, np.integer, torch.Tensor)) and not isinstance(answer, bool) and int(answer) == truth:
        return _right(f"default feature {truth} points the same way as yours (cosine {float(cos[truth]):.2f}).")
    return _wrong(f"{answer!r} is not the closest default feature.",
                  "cosine similarity between your W_dec row and every row of scope.sae.W_dec, then argmax")


# ---------------------------------------------------------------------------------------------------
# lesson 5: why did it say that?


def _feature_list(answer, d_sae: int) -> list[int] | None:
    """Distinct feature ids from a list/tuple/set/array/tensor of ints; None when it is not one."""
    if isinstance(answer, (torch.Tensor, np.ndarray)):
        answer = answer.reshape(-1).tolist()
    if isinstance(answer, (str, bytes, dict)) or not isinstance(answer, (Sequence, set, frozenset)):
        return None
    if any(isinstance(a, bool) or not isinstance(a, (int, np.integer)) or not 0 <= int(a) < d_sae for a in answer):
        return None
    return list(dict.fromkeys(int(a) for a in answer))


def check_helping_token(scope, text: str, answer, target=None, contrast=None, position: int = -1,
                        name: str = "helping_token") -> bool | None:
    """The position (or token text) whose features, summed, help the target most: argmax of per_token()."""
    if answer is None:
        return _not_answered(name)
    attr = scope.attribute(text, position, target, contrast)
    per_token, tokens = attr.per_token(), attr.tokens
    truth = int(per_token.argmax())
    if isinstance(answer, str):
        matches = [i for i, t in enumerate(tokens) if t == answer or t.strip() == answer.strip()]
        if not matches:
            return _wrong(f"{answer!r} is not one of the text's tokens {tokens}.", "give the position (an int) or the token as in attr.tokens")
        answer = truth if truth in matches else matches[0]
    if isinstance(answer, bool) or not isinstance(answer, (int, np.integer)) or not 0 <= int(answer) < len(tokens):
        return _wrong(f"{answer!r} is not a position in the text (0 to {len(tokens) - 1}) or one of its tokens.", "int(attr.per_token().argmax())")
    got = int(answer)
    if got == truth:
        what = repr(attr.target) + (f" over {attr.contrast!r}" if attr.contrast is not None else "")
        return _right(f"the features at {tokens[truth]!r} (position {truth}) add up to {per_token[truth]:+.2f}: "
                      f"more help for {what} than any other token's.")
    if got == int(np.abs(per_token).argmax()):
        return _wrong(f"{tokens[got]!r} has the largest total by size, but it is {per_token[got]:+.2f}: it hurts.",
                      "the question is which token helps most: the largest signed total, per_token().argmax().")
    if got == attr.top(1)[0][0]:
        return _wrong(f"the single strongest (position, feature) pair sits at {tokens[got]!r}, but all the features "
                      f"there add up to {per_token[got]:+.2f}.", "sum every feature at each token: attr.per_token(), then argmax.")
    return _wrong(f"the features at {tokens[got]!r} add up to {per_token[got]:+.2f}; another token's add up to more.",
                  "attr.per_token() has one total per token; take its argmax.")


def check_node_sum(scope, text: str, answer, target=None, contrast=None, position: int = -1) -> bool | None:
    """features + error + bias + skip + bos, which must equal the total (gradient . activation at the hook)."""
    if answer is None:
        return _not_answered("node_sum")
    got = _as_float(answer, "node_sum")
    if got is None:
        return _wrong("`node_sum` should be one number.", "add the values of attr.nodes(), all but 'total'")
    attr = scope.attribute(text, position, target, contrast)
    parts = attr.nodes()
    total = parts.pop("total")
    truth = sum(parts.values())
    if _close(got, truth, 1e-3, 1e-3):
        return _right(f"the five nodes add up to {truth:.3f}, and the total is {total:.3f}: nothing is lost. "
                      f"(The metric itself is {attr.metric:.2f}: a different number, see below.)")
    if _close(got, attr.metric, 1e-3, 1e-3):
        return _wrong("that is the metric itself, not the sum of the nodes.", "sum the values of attr.nodes() except 'total'")
    if _close(got, truth + total, 1e-3, 1e-3):
        return _wrong("you counted the total as well.", "leave 'total' out of the sum: it is what the others add up to")
    for k, v in parts.items():
        if abs(v) > 1e-3 and _close(got, truth - v, 1e-3, 1e-3):
            return _wrong(f"you left out the {k!r} node ({v:+.3f}).", "five nodes: features, error, bias, skip, bos")
    return _wrong(f"{got:.4f} is not the sum of the nodes.", "sum(v for k, v in attr.nodes().items() if k != 'total')")


def check_real_change(scope, text: str, answer, target=None, contrast=None, position: int = -1) -> bool | None:
    """The real change of the metric when the feature with the largest summed score is ablated."""
    if answer is None:
        return _not_answered("real_change")
    got = _as_float(answer, "real_change")
    if got is None:
        return _wrong("`real_change` should be one number.", "attr.ablate([feature], details=True).change")
    attr = scope.attribute(text, position, target, contrast)
    feature = attr.by_feature(1)[0][0]
    ablation = attr.ablate([feature], details=True)
    truth, estimate = ablation.change, attr.estimated_effect([feature])
    if _close(got, truth, 0.01, 1e-3):
        return _right(f"ablating feature {feature} changes the metric by {truth:+.2f}; the linear estimate said {estimate:+.2f}.")
    if _close(got, -truth, 0.01, 1e-3):
        return _wrong("the sign is flipped.", "change = metric after ablation - metric before (negative when the feature helped)")
    if _close(got, estimate, 0.01, 1e-3):
        return _wrong("that is the estimate, not the real change.", "run the ablation: attr.ablate([feature], details=True).change")
    if _close(abs(got), abs(ablation.target_prob - attr.target_prob), 0.01, 1e-4):
        return _wrong("that is the change of the probability; the scores estimate the change of the metric (the logit).",
                      "attr.ablate([feature], details=True).change")
    pair = attr.top(1)[0][1]
    if pair != feature and _close(got, attr.ablate([pair], details=True).change, 0.01, 1e-3):
        return _wrong(f"that is feature {pair}, the strongest single (position, feature) pair; the exercise asks for "
                      f"the largest summed score.", "feature = attr.by_feature(1)[0][0]")
    return _wrong(f"{got:.4f} is not the real change.", "feature = attr.by_feature(1)[0][0]; attr.ablate([feature], details=True).change")


def _greedy_half(attr, limit: int = 40) -> list[int] | None:
    """The shortest prefix of the helpers (largest summed score first) whose joint ablation halves the metric."""
    helpers = [f for f, s in attr.by_feature() if s > 0][:limit]
    return next((helpers[:k] for k in range(1, len(helpers) + 1)
                 if attr.ablate(helpers[:k], details=True).metric <= attr.metric / 2), None)


def check_small_set(scope, text: str, target, contrast, answer, position: int = -1) -> bool | None:
    """Features whose joint ablation removes at least half of the logit difference, no more of them than the
    greedy choice (helpers by summed score, largest first) needs. Verified by running the ablation."""
    if answer is None:
        return _not_answered("small_set")
    features = _feature_list(answer, scope.sae.d_sae)
    if not features:
        return _wrong("`small_set` should be a non-empty list of feature ids (ints).", "start from [f for f, s in attr.by_feature() if s > 0]")
    attr = scope.attribute(text, position, target, contrast)
    if attr.metric <= 0:
        return _wrong(f"the model does not prefer {attr.target!r} here (logit difference {attr.metric:.2f}).", "pick another target or contrast")
    after = attr.ablate(features, details=True)
    greedy = _greedy_half(attr)
    removed = (attr.metric - after.metric) / attr.metric
    if after.metric <= attr.metric / 2 and (greedy is None or len(features) <= len(greedy)):
        return _right(f"ablating these {len(features)} features takes the logit difference from {attr.metric:.2f} to "
                      f"{after.metric:.2f} ({removed:.0%} of it removed); p({attr.target!r}) {attr.target_prob:.1%} -> "
                      f"{after.target_prob:.1%}." + (" Fewer than the greedy choice, too!" if greedy and len(features) < len(greedy) else ""))
    if after.metric <= attr.metric / 2:
        return _wrong(f"ablating them does remove {removed:.0%} of the logit difference, but {len(greedy)} features are enough.",
                      "add helpers one at a time and stop as soon as the metric is at most half of what it was")
    hurting = [f for f, s in attr.by_feature() if s < 0 and f in features]
    return _wrong(f"ablating them takes the logit difference from {attr.metric:.2f} to {after.metric:.2f}: not half of it yet.",
                  (f"features {hurting} hurt the target (negative score): ablating them pushes the other way. " if hurting else "")
                  + "add the helpers (positive summed score, largest first) one at a time, ablate them together, and "
                  "stop when the metric is at most half of attr.metric")
