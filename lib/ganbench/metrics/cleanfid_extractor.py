"""clean-fid's feature extractor (Parmar et al., the ``clean-fid`` package) as a ganbench/torch-fidelity extractor.

Vision-aided GAN's released-model FIDs come from ``calc_metrics.py --clean 1``: clean-fid's ``mode="clean"``, i.e.
every image (uint8) resized to 299 x 299 by PIL bicubic on each channel as float (no re-quantisation), then the
StyleGAN2-ADA TorchScript Inception (``inception-2015-12-05.pt``) on ``(x - 128) / 128``, pool features (2048).
Both steps are clean-fid's own code (``cleanfid.resize.build_resizer("clean")``, ``InceptionV3W``); this module only
feeds them. The weights file is a pipeline input (``config/weights.yaml`` id ``clean-fid``, rule
``download_weights``): ``InceptionV3W`` is built with ``download=False`` from a temporary folder holding a link with
the file name it expects, so clean-fid never fetches anything.

Reference statistics are ours (rule ``stats``, the experiment's own training set, like ``fid50k_full``), never
clean-fid's precomputed ones picked by dataset name: the official ``--clean 1`` path chooses them by substring of
the data path, so that any path containing "cat" (AnimalFace-cat) is scored against LSUN-cat statistics. We do not
reproduce that.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import numpy as np
import torch
from torch_fidelity import FeatureExtractorBase, register_feature_extractor
from torch_fidelity.registry import FEATURE_EXTRACTORS_REGISTRY

from ganbench.errors import GanbenchError

CLEAN_FIDELITY_NAME = "ganbench-clean-fid"
CLEAN_FILE_NAME = "inception-2015-12-05.pt"  # the name InceptionV3W loads from its folder
FEATURE = "2048"


def load_clean_inception(weights_path: str | os.PathLike) -> torch.nn.Module:
    """clean-fid's ``InceptionV3W`` (resize outside the network, mode "clean") from a local TorchScript file."""
    from cleanfid.inception_torchscript import InceptionV3W

    with tempfile.TemporaryDirectory() as tmp:
        os.symlink(Path(weights_path).resolve(), Path(tmp) / CLEAN_FILE_NAME)
        return InceptionV3W(tmp, download=False, resize_inside=False)  # torch.jit.load reads it here


class FidelityCleanInception(FeatureExtractorBase):
    """clean-fid's resize + Inception as a torch-fidelity extractor (one feature, ``'2048'``)."""

    def __init__(self, name, features_list, feature_extractor_weights_path=None, **kwargs):
        from cleanfid.resize import build_resizer

        super().__init__(name, features_list)
        if feature_extractor_weights_path is None:
            raise GanbenchError("clean-fid needs feature_extractor_weights_path (inception-2015-12-05.pt)")
        self.net = load_clean_inception(feature_extractor_weights_path)
        self.resize = build_resizer("clean")
        self.requires_grad_(False)
        self.eval()

    def forward(self, x):
        if x.dtype != torch.uint8 or x.dim() != 4 or x.shape[1] != 3:
            raise GanbenchError(f"clean-fid: expected uint8 images (N, 3, H, W), got {x.dtype} {tuple(x.shape)}")
        images = x.permute(0, 2, 3, 1).cpu().numpy()  # clean-fid resizes HWC arrays, one image at a time
        resized = np.stack([self.resize(image) for image in images]).astype(np.float32)
        batch = torch.from_numpy(resized).permute(0, 3, 1, 2).to(x.device)
        return (self.net(batch).float(),)

    @staticmethod
    def get_provided_features_list():
        return (FEATURE,)

    @staticmethod
    def get_default_feature_layer_for_metric(metric):
        return FEATURE

    @staticmethod
    def can_be_compiled():
        return False

    @staticmethod
    def get_dummy_input_for_compile():
        return torch.zeros(1, 3, 64, 64, dtype=torch.uint8)


if CLEAN_FIDELITY_NAME not in FEATURE_EXTRACTORS_REGISTRY:
    register_feature_extractor(CLEAN_FIDELITY_NAME, FidelityCleanInception)
