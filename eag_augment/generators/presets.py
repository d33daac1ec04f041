"""Named sizes of the neural generators, from a one-minute CPU fit to the papers' GPU models.

    make_generator("eag")                             # = EAGGenerator(): the CPU default
    make_generator("eag", "quick")                    # the README's one-minute quick start
    make_generator("eag", "paper", device="cuda")     # paper-scale, for a GPU
    make_generator("latent_diffusion", "ldns")        # the LDNS baseline (MC_Maze sizes)
    make_generator("eag", "cpu", steps=3000, autoencoder__latent_dim=8)   # overrides

A preset is a table of constructor arguments (``"autoencoder"`` holds the
:class:`LatentAutoencoder`'s); the returned generator is an ordinary unfitted estimator, so
``get_params``, ``clone`` and grid searches see plain hyperparameters. The "cpu" presets are the
classes' defaults. Measured fit times are in docs/training.md.
"""

from __future__ import annotations

from eag_augment.generators.autoencoder import LatentAutoencoder
from eag_augment.generators.base import BaseGenerator
from eag_augment.generators.diffusion import LatentDiffusionGenerator
from eag_augment.generators.eag import EAGGenerator
from eag_augment.generators.langevin import LangevinFlowGenerator
from eag_augment.generators.latent import LatentGenerator

__all__ = ["GENERATORS", "PRESETS", "make_generator"]

#: The generator classes by the short name ``make_generator`` takes.
GENERATORS: dict[str, type[BaseGenerator]] = {
    "eag": EAGGenerator, "latent_diffusion": LatentDiffusionGenerator,
    "langevin": LangevinFlowGenerator}

# Stage 1 as in LDNS on MC_Maze (docs: reference/ldns.md): C = 256, 4 S4 blocks of state 64,
# causal, d = 16, coordinated dropout 0.5, b_L2 = 0.001, b_td = 0.2, AdamW lr 1e-3, clip 2.0,
# batch 64, the epoch-140 checkpoint (early stopping on validation stands in for picking it).
_LDNS_AUTOENCODER = dict(latent_dim=16, channels=256, n_blocks=4, state_dim=64,
                         bidirectional=False, cd_rate=0.5, l2=0.001, smoothness=0.2, lr=1e-3,
                         grad_clip=2.0, batch_size=64, epochs=140, patience=40)
# The README's quick start: seconds per fit on a laptop CPU at 35 bins x 182 neurons.
_QUICK_AUTOENCODER = dict(latent_dim=8, channels=32, n_blocks=2, steps=150)

#: kind -> preset name -> constructor arguments ("autoencoder": LatentAutoencoder arguments).
PRESETS: dict[str, dict[str, dict]] = {
    "eag": {
        "cpu": {},
        "quick": dict(width=32, depth=2, head_width=64, steps=200,
                      autoencoder=_QUICK_AUTOENCODER),
        # One bin of d = 16 per token with 64 noise dimensions, the reference optimiser
        # (AdamW (0.9, 0.95), weight decay 0.02, clip 3.0, EMA, head at half the lr). The
        # transformer's width/depth and the training length are not in our reference notes
        # of the paper: these are MAR-small-like choices for a GPU, not the paper's numbers.
        "paper": dict(patch_size=1, width=256, depth=6, heads=8, n_buffer=16, head_width=256,
                      head_blocks=3, noise_dim=64, steps=40_000, batch_size=256, lr=5e-4,
                      ema_decay=0.9999, n_steps=32, autoencoder=_LDNS_AUTOENCODER),
    },
    "latent_diffusion": {
        "cpu": {},
        "quick": dict(channels=32, n_blocks=2, state_dim=16, steps=300, sampler="ddim",
                      n_steps=50, autoencoder=_QUICK_AUTOENCODER),
        # LDNS's MC_Maze denoiser: C = 256 x 6 S4 blocks, DDPM with 1000 linear-beta steps,
        # epsilon prediction, smooth-L1 loss, EMA weights; sampled with all 1000 steps.
        "ldns": dict(channels=256, n_blocks=6, state_dim=64, n_timesteps=1000,
                     loss="smooth_l1", steps=40_000, batch_size=256, lr=5e-4,
                     ema_decay=0.9999, sampler="ddpm", n_steps=1000,
                     autoencoder=_LDNS_AUTOENCODER),
    },
    "langevin": {
        "cpu": {},
        "quick": dict(latent_dim=16, encoder_hidden=32, d_model=32, ff_dim=64, epochs=30,
                      patience=10, kl_warmup_epochs=10),
        # The paper's sizes where our notes have them (latent 280, 4 groups, 3 taps,
        # h = 0.01, g = 0.55, lr 3e-3, KL weight 0.1 over 500 epochs).
        "paper": dict(latent_dim=280, n_groups=4, kernel_size=3, encoder_hidden=256,
                      d_model=256, n_heads=8, ff_dim=512, lr=3e-3, kl_weight=0.1,
                      kl_warmup_epochs=500, epochs=1000, patience=100),
    },
}


def make_generator(kind: str, preset: str = "cpu", **overrides) -> BaseGenerator:
    """An unfitted generator of ``kind`` at the sizes of ``preset``, with ``overrides`` on top.

    Parameters
    ----------
    kind : {"eag", "latent_diffusion", "langevin"}
    preset : str
        A name in ``PRESETS[kind]``: "cpu" (the class defaults, sized for a laptop),
        "quick" (the one-minute quick start), "paper" (EAG, LangevinFlow) or "ldns" (latent
        diffusion), the last two for a GPU.
    **overrides
        Constructor arguments, nested ones with ``__`` as in ``set_params``
        (``autoencoder__latent_dim=8``).
    """
    if kind not in GENERATORS:
        raise ValueError(f"kind must be one of {sorted(GENERATORS)}, got {kind!r}")
    if preset not in PRESETS[kind]:
        raise ValueError(f"preset of {kind!r} must be one of {sorted(PRESETS[kind])}, "
                         f"got {preset!r}")
    klass = GENERATORS[kind]
    params = dict(PRESETS[kind][preset])
    if issubclass(klass, LatentGenerator):
        params["autoencoder"] = LatentAutoencoder(**params.get("autoencoder", {}))
    return klass(**params).set_params(**overrides)
