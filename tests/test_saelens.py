"""SAE.from_saelens on transcoders (issue 10, point 6): duck-typed stand-ins laid out exactly as SAELens
lays them out (sae_lens/saes/transcoder.py), compared numerically with SAELens' own forward maths."""

from __future__ import annotations

import types

import pytest
import torch
from torch import nn

from scope_widgets.saes import SAE


class SkipTranscoder(nn.Module):
    """SAELens' SkipTranscoder, reduced to its parameters and maths: ``W_skip`` is ``[d_out, d_in]`` and
    ``forward(x) = relu(x @ W_enc + b_enc) @ W_dec + b_dec + x @ W_skip.T`` (no b_dec subtracted from x)."""

    def __init__(self, d_in: int, d_sae: int, d_out: int, *, hook="blocks.3.hook_resid_mid",
                 hook_out="blocks.3.hook_mlp_out", model_name="gemma-2-2b", architecture="skip_transcoder", seed=0):
        super().__init__()
        g = torch.Generator().manual_seed(seed)

        def rand(*shape, scale=1.0):
            return nn.Parameter(torch.randn(*shape, generator=g, dtype=torch.float64) * scale)

        self.W_enc = rand(d_in, d_sae, scale=d_in**-0.5)
        self.b_enc = rand(d_sae, scale=0.2)
        self.W_dec = rand(d_sae, d_out, scale=d_sae**-0.5)
        self.b_dec = rand(d_out, scale=0.2)
        self.W_skip = rand(d_out, d_in, scale=d_in**-0.5)
        self.cfg = types.SimpleNamespace(
            d_in=d_in, d_sae=d_sae, d_out=d_out, apply_b_dec_to_input=False, normalize_activations="none",
            architecture=lambda: architecture,
            metadata=types.SimpleNamespace(hook_name=hook, hook_name_out=hook_out, model_name=model_name),
        )

    def encode(self, x):
        return torch.relu(x @ self.W_enc + self.b_enc)

    def forward(self, x):
        return self.encode(x) @ self.W_dec + self.b_dec + x @ self.W_skip.T


class JumpReLUTranscoder(SkipTranscoder):
    """SAELens' JumpReLUTranscoder: a threshold, no skip."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, architecture="jumprelu_transcoder", **kwargs)
        del self.W_skip
        self.threshold = nn.Parameter(torch.rand(self.b_enc.shape[0], dtype=torch.float64) * 0.3)

    def encode(self, x):
        pre = x @ self.W_enc + self.b_enc
        return torch.relu(pre) * (pre > self.threshold)

    def forward(self, x):
        return self.encode(x) @ self.W_dec + self.b_dec


@pytest.mark.parametrize("d_in, d_out", [(12, 12), (12, 9)])
def test_skip_transcoder_decodes_as_saelens_does(d_in, d_out):
    fake = SkipTranscoder(d_in, 40, d_out)
    sae = SAE.from_saelens(fake)
    assert sae.is_transcoder and sae.is_affine and (sae.d_in, sae.d_sae, sae.d_out) == (d_in, 40, d_out)
    assert sae.affine_skip_connection.shape == (d_in, d_out)
    assert sae.hook_point_in == "model.layers.3.pre_feedforward_layernorm.input"  # TransformerLens' resid_mid
    assert sae.hook_point_out == "model.layers.3.post_feedforward_layernorm.output"
    x = torch.randn(7, d_in, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        expected_f, expected = fake.encode(x), fake(x)
    assert (expected_f > 0).any() and (expected_f == 0).any()
    torch.testing.assert_close(sae.encode(x), expected_f)
    torch.testing.assert_close(sae(x), expected)
    torch.testing.assert_close(sae.decode(sae.encode(x), x), expected)
    skip = (x @ fake.W_skip.T).detach()
    assert skip.abs().max() > 0.1, "the skip must matter, or a wrong orientation would pass"


def test_skip_transcoder_with_a_transposed_w_skip_is_refused():
    fake = SkipTranscoder(12, 40, 9)
    fake.W_skip = nn.Parameter(fake.W_skip.detach().T.clone())
    with pytest.raises(ValueError, match=r"W_skip has shape \(12, 9\), but SAELens lays it out as \[d_out, d_in\]"):
        SAE.from_saelens(fake)


def test_gemma_2_transcoder_reads_the_gainless_norm():
    """SAELens loads Gemma Scope 1 transcoders at blocks.L.ln2.hook_normalized: the norm without its gain."""
    fake = JumpReLUTranscoder(16, 32, 16, hook="blocks.3.ln2.hook_normalized")
    sae = SAE.from_saelens(fake)
    assert not sae.is_affine and sae.cfg.input_norm == "rms"
    assert sae.hook_point_in == "model.layers.3.pre_feedforward_layernorm.input"
    resid = torch.randn(5, 16, dtype=torch.float64) * 30
    normalised = resid * torch.rsqrt(resid.pow(2).mean(-1, keepdim=True) + 1e-6)  # what hook_normalized holds
    with torch.no_grad():
        torch.testing.assert_close(sae.encode(resid), fake.encode(normalised))
        torch.testing.assert_close(sae(resid), fake(normalised))


def test_transcoder_hooks_that_cannot_be_reproduced_are_refused():
    with pytest.raises(ValueError, match="gainless pre-MLP norm of Gemma models"):
        SAE.from_saelens(JumpReLUTranscoder(16, 32, 16, hook="blocks.3.ln2.hook_normalized", model_name="gpt2-small"))
    with pytest.raises(ValueError, match="unsupported SAELens transcoder hook 'blocks.3.hook_resid_post'"):
        SAE.from_saelens(JumpReLUTranscoder(16, 32, 16, hook="blocks.3.hook_resid_post"))
    with pytest.raises(ValueError, match="unsupported SAELens transcoder output hook 'blocks.3.hook_resid_post'"):
        SAE.from_saelens(JumpReLUTranscoder(16, 32, 16, hook_out="blocks.3.hook_resid_post"))
    hf = SAE.from_saelens(JumpReLUTranscoder(16, 32, 16, hook="model.layers.3.pre_feedforward_layernorm.output",
                                             hook_out="model.layers.3.mlp.output"))
    assert (hf.hook_point_in, hf.hook_point_out, hf.cfg.input_norm) == (
        "model.layers.3.pre_feedforward_layernorm.output", "model.layers.3.mlp.output", None)


def test_architectures_a_jumprelu_cannot_express_are_refused():
    fake = JumpReLUTranscoder(16, 32, 16)
    fake.cfg.architecture = lambda: "topk"
    with pytest.raises(ValueError, match="SAELens 'topk' SAEs are not supported by SAE.from_saelens"):
        SAE.from_saelens(fake)
