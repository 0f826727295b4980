"""What a validated configuration measures, as file paths (importable without torch; the rules call these).

Every path comes from :mod:`ganbench.metrics.paths`; the protocols from :mod:`ganbench.metrics.protocols`.
"""

from __future__ import annotations

from typing import Any, Mapping

from ganbench.config import any_scale_results, eval_scales, released_protocols, released_runs
from ganbench.methods.catalog import CATALOG
from ganbench.metrics.paths import eval_path, floor_path, stats_path
from ganbench.metrics.protocols import (
    PROTOCOLS,
    Protocol,
    snapshot_protocol,
    configured_protocols,
    experiment_protocols,
    gan_protocols,
)

RECONSTRUCTION = "reconstruction"  # the protocol folder of an encoder's scores (ganbench.metrics.reconstruction)
RECONSTRUCTION_METRICS = ("mse", "psnr")
DEFAULT_SEGMENTATION = "fg_miou"  # what a segmenter is scored by when the config names no segmentation protocol


def protocols_of(config: Mapping[str, Any]) -> dict[str, Protocol]:
    """Every GAN protocol of the configuration by name: ``metrics.protocols``' in their order, then those that
    experiments list for themselves (a paper's own protocol), in experiment order."""
    out = {p.name: p for p in gan_protocols(config["metrics"])}
    for exp in config["experiments"]:
        for name, p in experiment_protocols(config["metrics"], exp).items():
            out.setdefault(name, p)
    return out


def default_protocols(config: Mapping[str, Any]) -> list[str]:
    """The GAN protocols of ``metrics.protocols``: what an experiment without a list of its own is measured by."""
    return [p.name for p in gan_protocols(config["metrics"])]


def experiment_gan_protocols(config: Mapping[str, Any], experiment: Mapping[str, Any]) -> dict[str, Protocol]:
    """The GAN protocols one experiment is measured by (its own ``protocols`` list, else metrics.protocols')."""
    return experiment_protocols(config["metrics"], experiment)


def swap_fid_protocols(config: Mapping[str, Any], experiment: Mapping[str, Any]) -> list[str]:
    """The protocols of CoordGAN's texture-swap FID: every FID protocol the run is measured by."""
    return [n for n, p in experiment_gan_protocols(config, experiment).items() if "fid" in p.metrics]


def segmentation_protocols(config: Mapping[str, Any]) -> dict[str, Protocol]:
    """The configured segmentation protocols by name (single test split), or the default one."""
    chosen = {n: p for n, p in configured_protocols(config["metrics"]).items() if p.kind == "segmentation"}
    return chosen or {DEFAULT_SEGMENTATION: PROTOCOLS[DEFAULT_SEGMENTATION]}


def stats_file(config: Mapping[str, Any], dataset: str, res: int, protocol: str) -> str:
    """The statistics an evaluation under ``protocol`` reads for data ``dataset`` at ``res``."""
    return stats_path(dataset, res, protocols_of(config)[protocol].statskey)


def scale_results(config: Mapping[str, Any], experiment: Mapping[str, Any]) -> list[str]:
    """An any-scale experiment's FID files at scales > 1 (stems), empty for other methods."""
    return any_scale_results(config, experiment)["fid"]


def eval_files(config: Mapping[str, Any], experiment: Mapping[str, Any]) -> list[str]:
    """Every result file of an experiment, by its method's evaluation groups (ganbench.methods.catalog): each GAN
    protocol's metrics (for any-scale methods also its FID at every scale), the protocol-free consistency and
    render-cost files, an encoder's reconstruction scores, a segmenter's scores under each segmentation protocol."""
    name = experiment["name"]
    groups = CATALOG[experiment["method"]].evaluations
    files = []
    if "gan" in groups:
        for p in experiment_gan_protocols(config, experiment).values():
            files += [eval_path(name, n, p.name) for n in p.result_names]
            if "fid" in p.metrics:
                files += [eval_path(name, n, p.name) for n in scale_results(config, experiment)]
    any_scale = any_scale_results(config, experiment)
    files += [eval_path(name, n) for n in any_scale["consistency"] + any_scale["cost"]]
    if "reconstruction" in groups:
        files += [eval_path(name, n, RECONSTRUCTION) for n in RECONSTRUCTION_METRICS]
    if "segmentation" in groups:
        for p in segmentation_protocols(config).values():
            files += [eval_path(name, n, p.name) for n in p.result_names]
    if "cocogan" in groups:
        files += [eval_path(name, n) for n in cocogan_seam_results(experiment)]
        if "gan" in groups:
            for p in experiment_gan_protocols(config, experiment).values():
                if "fid" in p.metrics:
                    files += [eval_path(name, n, p.name) for n in cocogan_fid_results(experiment)]
    if "coordgan_swap" in groups:  # FID of texture-swapped samples, the swap distances, the identity distances
        files += [eval_path(name, SWAP_FID, p) for p in swap_fid_protocols(config, experiment)]
        files += [eval_path(name, n, SWAP_PROTOCOL) for n in SWAP_RESULTS]
        if experiment["dataset"] in config["metrics"]["coordgan"]["identity_datasets"]:
            files += [eval_path(name, n, IDENTITY_PROTOCOL) for n in IDENTITY_RESULTS]
    if "correspondence" in groups and config["datasets"][experiment["dataset"]]["source"] == "synthetic":
        # exact coordinates and keypoints: the synthetic data only
        files += [eval_path(name, n, CORRESPONDENCE) for n in CORRESPONDENCE_RESULTS]
    if "correspondence" in groups:  # the labelled real benchmarks metrics.coordgan.label_propagation names
        for dataset in config["metrics"]["coordgan"]["label_propagation"].get(name, []):
            files.append(eval_path(name, PROPAGATION_RESULT, propagation_protocol(dataset)))
    return files


def released_files(config: Mapping[str, Any]) -> list[str]:
    """Every result file of the released networks (``released:``): each of their GAN protocols' metrics."""
    return [
        eval_path(run["name"], n, name)
        for run in released_runs(config)
        for name, p in released_protocols(config, run["name"].split("/", 1)[1]).items()
        for n in p.result_names
    ]


def all_gan_protocols(config: Mapping[str, Any]) -> dict[str, Protocol]:
    """The configured GAN protocols, those only released networks are measured under, and the best-FID
    snapshot's (``metrics.snapshot_protocol``)."""
    out = dict(protocols_of(config))
    for name in config.get("released", {}):
        out.update(released_protocols(config, name))
    chosen = config["metrics"].get("snapshot_protocol") is not None
    if chosen or any(p.kind == "gan" and "fid" in p.metrics for p in out.values()):
        snapshot = snapshot_protocol(config["metrics"])
        out.setdefault(snapshot.name, snapshot)
    return out


def cocogan_seam_results(experiment: Mapping[str, Any]) -> list[str]:
    """The seam scores of a COCO-GAN experiment (ganbench.metrics.cocogan), protocol-free: assembled samples and
    real images on the same micro grid; extrapolated samples (the extrapolation stage); the 360° seam of
    generated and real panoramas and an interior column seam (the panorama method)."""
    method = experiment["method"]
    names = ["seam-assembled", "seam-real"]
    if method == "cocogan_extrap":
        names.append("seam-extrap")
    if method == "cocogan_panorama":
        names += ["seam-wrap", "seam-wrap-interior", "seam-wrap-real"]
    return names


def cocogan_fid_results(experiment: Mapping[str, Any]) -> list[str]:
    """A COCO-GAN experiment's FID files beyond the protocol's own: the best-FID snapshot, and for the
    extrapolation stage the FID of extrapolated images resized to the training resolution."""
    return ["fid-best"] + (["fid-extrap"] if experiment["method"] == "cocogan_extrap" else [])


def floor_targets(config: Mapping[str, Any]) -> list[tuple[str, int, str]]:
    """(dataset, res, protocol) of every floor the tables show: each of an experiment's protocols on the data it
    is evaluated against (for any-scale methods at every scale)."""
    out = set()
    for exp in config["experiments"]:
        if "gan" not in CATALOG[exp["method"]].evaluations:
            continue
        for p in experiment_gan_protocols(config, exp).values():
            scales = eval_scales(config, exp) if "fid" in p.metrics else [1]
            out |= {(exp["dataset"], exp["resolution"] * s, p.name) for s in scales}
    return sorted(out)


def floor_files(config: Mapping[str, Any]) -> list[str]:
    protocols = protocols_of(config)
    return [floor_path(d, r, p, n) for d, r, p in floor_targets(config) for n in protocols[p].result_names]


CORRESPONDENCE = "synthetic-label-propagation"  # ganbench.metrics.correspondence_eval.PROTOCOL (a test checks)
CORRESPONDENCE_METRIC_FILES = ("label_prop_miou", "pck_at_0.05", "pck_at_0.1", "coord_error")
CORRESPONDENCE_BASELINES = ("identity", "probe_nn")  # measured in the same job: {baseline}-{metric}.json
CORRESPONDENCE_RESULTS = CORRESPONDENCE_METRIC_FILES + tuple(
    f"{b}-{m}" for b in CORRESPONDENCE_BASELINES for m in CORRESPONDENCE_METRIC_FILES
)

# CoordGAN's disentanglement scores (ganbench.metrics.coordgan_swap; research coordgan.md §4.1): the FID of
# texture-swapped samples beside each FID, the texture- and structure-swap distances, the identity scores.
SWAP_FID = "fid-swap"
SWAP_PROTOCOL = "coordgan-swap"  # ganbench.metrics.coordgan_swap.SWAP_PROTOCOL (a test checks)
SWAP_RESULTS = ("swap_lpips", "struc_swap_lpips")
IDENTITY_PROTOCOL = "coordgan-identity"
IDENTITY_RESULTS = ("swap_id", "struc_swap_id")
PROPAGATION_RESULT = "label_prop_miou"


def propagation_protocol(dataset: str) -> str:
    """The folder of an encoder's label propagation on labelled real benchmark ``dataset`` (§4.2)."""
    return f"propagation-{dataset}"
