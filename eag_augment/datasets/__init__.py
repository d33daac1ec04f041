"""Datasets as TrialSets: simulators with ground truth, NWB (NLB layout) and MATLAB files."""

from eag_augment.datasets.lorenz import load_lorenz
from eag_augment.datasets.mat import load_mat
from eag_augment.datasets.nwb import load_nwb
from eag_augment.datasets.nwb_resample import resample_dataset
from eag_augment.datasets.nwb_save import read_nwb_metadata, save_nwb
from eag_augment.datasets.reach import ReachSimulator, make_synthetic_reach

__all__ = ["ReachSimulator", "load_lorenz", "load_mat", "load_nwb", "make_synthetic_reach",
           "read_nwb_metadata", "resample_dataset", "save_nwb"]
