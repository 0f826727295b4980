"""clean-fid as an extractor: clean-fid's own resize and Inception wrapper, loaded from a local TorchScript file the
test makes (no download), give the same features as clean-fid's folder pipeline on the same PNG files."""

from __future__ import annotations

import numpy as np
import PIL.Image
import pytest
import torch
from torch import nn

from ganbench.errors import GanbenchError
from ganbench.metrics.extractors import MissingWeightsError, load_extractor
from ganbench.metrics.protocols import get_protocol


class _Layers(nn.Module):
    """Stands in for the Inception trunk: (N, 3, 299, 299) -> (N, 2048, 1, 1), as InceptionV3W expects."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 8, 5, stride=4)
        self.fc = nn.Linear(8, 2048)

    def forward(self, x):
        return self.fc(self.conv(x).mean(dim=(2, 3))).view(x.shape[0], 2048, 1, 1)


class _Base(nn.Module):
    def __init__(self):
        super().__init__()
        self.layers = _Layers()

    def forward(self, x, return_features: bool = False):
        return self.layers(x)


@pytest.fixture(scope="module")
def weights(tmp_path_factory):
    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("w") / "clean-fid.pth"  # any name: the extractor links it under clean-fid's
    torch.jit.save(torch.jit.script(_Base()), str(path))
    return path


def _images(n=3, size=24, seed=1):
    rng = np.random.default_rng(seed)
    return torch.from_numpy(rng.integers(0, 256, (n, 3, size, size), dtype=np.uint8))


def test_features_equal_clean_fids_own_folder_pipeline(weights, tmp_path):
    from cleanfid.fid import get_folder_features

    from ganbench.metrics.cleanfid_extractor import load_clean_inception

    images = _images()
    folder = tmp_path / "png"
    folder.mkdir()
    for i, image in enumerate(images):
        PIL.Image.fromarray(image.permute(1, 2, 0).numpy()).save(folder / f"{i}.png")
    theirs = get_folder_features(
        str(folder),
        model=load_clean_inception(weights),
        num_workers=0,
        batch_size=8,
        device=torch.device("cpu"),
        mode="clean",
        verbose=False,
    )
    extractor = load_extractor("clean-fid", weights, "cpu")
    ours = extractor(images)
    assert ours.shape == (3, 2048) and extractor.feature_dim == 2048
    np.testing.assert_allclose(ours.numpy(), theirs, rtol=1e-5, atol=1e-5)


def test_the_resize_is_clean_fids_bicubic_not_the_network_s(weights):
    """A 299 px image is left alone by the resize; a 24 px one is not: the features differ from a naive upsample."""
    extractor = load_extractor("clean-fid", weights, "cpu")
    small = _images(1)
    naive = torch.nn.functional.interpolate(small.float(), size=(299, 299), mode="bilinear", align_corners=False)
    naive_features = extractor.module.net(naive)
    assert not torch.allclose(extractor(small), naive_features, atol=1e-4)


def test_missing_or_wrong_weights_are_one_line(weights, tmp_path):
    with pytest.raises(MissingWeightsError, match="clean-fid weights not found; the download_weights rule"):
        load_extractor("clean-fid", tmp_path / "missing.pt", "cpu")
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"not torchscript")
    with pytest.raises(GanbenchError, match="cannot load clean-fid weights"):
        load_extractor("clean-fid", bad, "cpu")


def test_the_protocol_is_fid_and_kid_x1000_on_the_full_training_set():
    p = get_protocol("clean_fid50k_full")
    assert (p.extractor, p.num_gen, p.reference, p.metrics, p.kid_scale) == (
        "clean-fid",
        50000,
        "full",
        ("fid", "kid"),
        1000.0,
    )
