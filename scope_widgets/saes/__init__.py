"""SAEs: the JumpReLU SAE / transcoder module, its config, and loaders for Gemma Scope 2 and 1.

    from scope_widgets.saes import SAE
    sae = SAE.from_pretrained("google/gemma-scope-2-1b-pt", "resid_post/layer_13_width_16k_l0_medium")
    f = sae.encode(x)          # [..., d_in] -> [..., d_sae]
    x_hat = sae.decode(f, x)   # [..., d_out]
"""

from scope_widgets.saes.config import SITES, SAEConfig, default_hook_points
from scope_widgets.saes.errors import SAELoadError
from scope_widgets.saes.jumprelu import SAE

__all__ = ["SAE", "SAEConfig", "SAELoadError", "SITES", "default_hook_points"]
