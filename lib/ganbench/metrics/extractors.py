"""Feature extractors behind one interface, each also registered in torch-fidelity.

- ``inception-v3-compat`` (D = 2048): torch-fidelity's ``FeatureExtractorInceptionV3``, pool
  features (layer ``'2048'``), weights ``weights-inception-2015-12-05-6726825d.pth`` made by the
  download_weights rule (``config/weights.yaml``) or given by path;
- ``clean-fid`` (D = 2048): clean-fid's resize and TorchScript Inception (:mod:`ganbench.metrics.cleanfid_extractor`),
  weights ``inception-2015-12-05.pt`` made by the download_weights rule (``config/weights.yaml`` id ``clean-fid``);
- ``probe`` (D = 256 by default): :class:`ganbench.metrics.probe.ProbeNet`, weights ``probe.pt``
  made by :func:`ganbench.metrics.probe.train_probe` on the labelled synthetic data.

An extractor takes uint8 images (N, 3, H, W) of any size and does its own resizing and
normalisation; it returns float32 features (N, D) on the CPU. Weights always come from a local
file: nothing is downloaded at run time. ``extractor.fidelity_kwargs`` are the keyword arguments
that make ``torch_fidelity.calculate_metrics`` use the same network and layer.
"""

from __future__ import annotations

import os
from pathlib import Path

import torch
from torch_fidelity import FeatureExtractorBase, FeatureExtractorInceptionV3, register_feature_extractor
from torch_fidelity.registry import FEATURE_EXTRACTORS_REGISTRY

from ganbench.errors import GanbenchError
from ganbench.fileio import sha256_file
from ganbench.metrics.probe import load_probe, to_network_input

PROBE_FIDELITY_NAME = "ganbench-probe"


class MissingWeightsError(GanbenchError):
    """A pretrained weights file is not where it was said to be."""


class FidelityProbe(FeatureExtractorBase):
    """The probe as a torch-fidelity feature extractor (one feature, ``'probe'``).

    torch-fidelity builds it as ``cls(name, features_list, **calculate_metrics_kwargs)``; the
    weights come from ``feature_extractor_weights_path`` (a ``probe.pt``), which is required.
    """

    FEATURE = "probe"

    def __init__(self, name, features_list, feature_extractor_weights_path=None, **kwargs):
        super().__init__(name, features_list)
        if feature_extractor_weights_path is None:
            raise MissingWeightsError("the probe feature extractor needs feature_extractor_weights_path (a probe.pt)")
        self.net, meta = load_probe(feature_extractor_weights_path)
        self.resolution = int(meta["resolution"])
        self.feature_dim = int(meta["feature_dim"])
        self.requires_grad_(False)
        self.eval()

    def forward(self, x):
        if x.dtype != torch.uint8 or x.dim() != 4 or x.shape[1] != 3:
            raise GanbenchError(f"probe: expected uint8 images (N, 3, H, W), got {x.dtype} {tuple(x.shape)}")
        return (self.net.features(to_network_input(x, self.resolution)).float(),)

    @staticmethod
    def get_provided_features_list():
        return (FidelityProbe.FEATURE,)

    @staticmethod
    def get_default_feature_layer_for_metric(metric):
        return FidelityProbe.FEATURE

    @staticmethod
    def can_be_compiled():
        return False

    @staticmethod
    def get_dummy_input_for_compile():
        return torch.zeros(1, 3, 32, 32, dtype=torch.uint8)


if PROBE_FIDELITY_NAME not in FEATURE_EXTRACTORS_REGISTRY:
    register_feature_extractor(PROBE_FIDELITY_NAME, FidelityProbe)


class FeatureExtractor:
    """One extractor: ``name``, ``feature_dim``, ``weights_sha256``, ``__call__(uint8 images) -> features``.

    Wraps a torch-fidelity ``FeatureExtractorBase`` (``fidelity_name`` in its registry) and the
    feature layer used for every metric.
    """

    def __init__(
        self,
        name: str,
        module: FeatureExtractorBase,
        fidelity_name: str,
        layer: str,
        feature_dim: int,
        weights_path: Path,
        device: str | torch.device = "cpu",
    ):
        self.name, self.fidelity_name, self.layer, self.feature_dim = name, fidelity_name, layer, feature_dim
        self.weights_path = Path(weights_path)
        self.weights_sha256 = sha256_file(weights_path)
        self.device = torch.device(device)
        self.module = module.to(self.device).eval()

    @torch.no_grad()
    def __call__(self, images: torch.Tensor) -> torch.Tensor:
        """uint8 (N, 3, H, W) -> float32 (N, D) on the CPU."""
        if not torch.is_tensor(images) or images.dtype != torch.uint8 or images.dim() != 4 or images.shape[1] != 3:
            got = f"{images.dtype} {tuple(images.shape)}" if torch.is_tensor(images) else type(images).__name__
            raise GanbenchError(f"{self.name}: expected uint8 images (N, 3, H, W), got {got}")
        out = self.module(images.to(self.device).contiguous())  # the memory layout changes conv rounding
        features = self.module.convert_features_tuple_to_dict(out)[self.layer]
        return features.float().cpu()

    @property
    def fidelity_kwargs(self) -> dict:
        """Keyword arguments for ``torch_fidelity.calculate_metrics`` that select this extractor."""
        return {
            "feature_extractor": self.fidelity_name,
            "feature_extractor_weights_path": str(self.weights_path),
            **{f"feature_layer_{m}": self.layer for m in ("fid", "kid", "prc")},
        }

    def describe(self) -> dict:
        return {"extractor": self.name, "feature_dim": self.feature_dim, "weights_sha256": self.weights_sha256}

    def __repr__(self) -> str:
        return f"FeatureExtractor({self.name!r}, D={self.feature_dim}, weights={self.weights_path})"


def _inception(weights_path: Path, device) -> FeatureExtractor:
    module = FeatureExtractorInceptionV3(
        "inception-v3-compat", ["2048"], feature_extractor_weights_path=str(weights_path)
    )
    return FeatureExtractor("inception-v3-compat", module, "inception-v3-compat", "2048", 2048, weights_path, device)


def _probe(weights_path: Path, device) -> FeatureExtractor:
    module = FidelityProbe(PROBE_FIDELITY_NAME, [FidelityProbe.FEATURE], feature_extractor_weights_path=weights_path)
    return FeatureExtractor(
        "probe", module, PROBE_FIDELITY_NAME, FidelityProbe.FEATURE, module.feature_dim, weights_path, device
    )


def _clean(weights_path: Path, device) -> FeatureExtractor:
    from ganbench.metrics.cleanfid_extractor import CLEAN_FIDELITY_NAME, FEATURE, FidelityCleanInception

    module = FidelityCleanInception(CLEAN_FIDELITY_NAME, [FEATURE], feature_extractor_weights_path=weights_path)
    return FeatureExtractor("clean-fid", module, CLEAN_FIDELITY_NAME, FEATURE, 2048, weights_path, device)


# name -> (constructor, where a missing weights file comes from)
EXTRACTORS = {
    "inception-v3-compat": (_inception, "the download_weights rule (config/weights.yaml, id inception-v3-compat)"),
    "clean-fid": (_clean, "the download_weights rule (config/weights.yaml, id clean-fid)"),
    "probe": (_probe, "the train_probe rule (train_probe on the labelled synthetic datasets)"),
}


def available_extractors() -> list[str]:
    return sorted(EXTRACTORS)


def default_device() -> torch.device:
    """Where evaluation runs when the caller does not say: the GPU of a GPU job, else the CPU."""
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def load_extractor(
    name: str, weights_path: str | os.PathLike, device: str | torch.device | None = None
) -> FeatureExtractor:
    """The extractor ``name`` with weights from the local file ``weights_path`` (never downloaded), on ``device``
    (default: :func:`default_device`)."""
    device = default_device() if device is None else device
    if name not in EXTRACTORS:
        raise GanbenchError(f"unknown feature extractor {name!r} (available: {', '.join(available_extractors())})")
    build, provider = EXTRACTORS[name]
    path = Path(weights_path)
    if not path.is_file():
        raise MissingWeightsError(f"{path}: {name} weights not found; {provider} or an explicit path provides them")
    try:
        return build(path, device)
    except GanbenchError:
        raise
    except Exception as exc:  # a wrong or damaged file: torch raises many types
        message = f"{path}: cannot load {name} weights ({type(exc).__name__}: {exc})"
        raise GanbenchError(message.splitlines()[0]) from None
