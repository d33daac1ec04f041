"""Generators of synthetic trials behind one interface: fit(trials) / sample(n, ...)."""

from eag_augment.generators.autoencoder import LatentAutoencoder
from eag_augment.generators.base import BaseGenerator, load_generator
from eag_augment.generators.diffusion import LatentDiffusionGenerator
from eag_augment.generators.eag import EAGGenerator
from eag_augment.generators.encoding import PoissonEncodingGenerator
from eag_augment.generators.jitter import PoissonJitterGenerator
from eag_augment.generators.langevin import LangevinFlowGenerator
from eag_augment.generators.oracle import OracleGenerator
from eag_augment.generators.presets import GENERATORS, PRESETS, make_generator
from eag_augment.generators.psth import PSTHPoissonGenerator
from eag_augment.generators.reconstruction import AutoencoderReconstructionGenerator

__all__ = ["AutoencoderReconstructionGenerator", "BaseGenerator", "EAGGenerator",
           "LangevinFlowGenerator", "LatentAutoencoder", "LatentDiffusionGenerator",
           "OracleGenerator", "PSTHPoissonGenerator", "PoissonEncodingGenerator",
           "PoissonJitterGenerator", "GENERATORS", "PRESETS", "load_generator", "make_generator"]
