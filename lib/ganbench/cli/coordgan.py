"""CoordGAN's subcommands (research/coordgan.md): correspondence scores, label propagation, swap scores."""

from __future__ import annotations

from ganbench.cli.args import POSITIVE, SEED, check_device, checkpoint_method, input_file, output_dir
from ganbench.errors import GanbenchError

# ganbench.metrics.correspondence.BENCHMARKS (kept torch-free here; tests/test_coordgan_benchmarks.py checks)
BENCHMARK_NAMES = ("datasetgan-face-34", "datasetgan-car-20", "celebA-7")


def add_commands(command) -> None:
    p = command(
        "coordgan-correspondence",
        "CoordGAN: an encoder's label propagation, keypoint PCK and canonical coordinate error on a labelled "
        "test split, beside the identity warp and probe nearest neighbour baselines",
        _correspondence,
    )
    p.add_argument("checkpoint", help="a coordgan_encoder checkpoint (its generator is checked by sha256)")
    p.add_argument("data", help="the labelled set's images.zip")
    p.add_argument("annotations", help="its annotations.h5 (coordinates and keypoints: the synthetic data)")
    p.add_argument("--probe", required=True, help="the probe's probe.pt (the nearest-neighbour baseline)")
    p.add_argument("--queries", type=POSITIVE, default=50, help="test images after the 5 references")
    p.add_argument("--device", help="cpu, cuda or cuda:N (default: cpu)")
    p.add_argument("--out", required=True, help="output folder for {metric}.json")

    p = command(
        "coordgan-propagate",
        "CoordGAN: label-propagation mIoU (eval_corr.py) from the first 5 reference image/mask pairs to the "
        "query pairs, through an encoder's coordinate maps",
        _propagate,
    )
    p.add_argument("checkpoint", help="a coordgan_encoder checkpoint")
    p.add_argument("--refs", nargs="+", required=True, help="reference IMAGE:MASK pairs (PNG masks of class ids)")
    p.add_argument("--queries", nargs="+", required=True, help="query IMAGE:MASK pairs")
    p.add_argument("--classes", type=POSITIVE, required=True, help="number of classes, background (0) included")
    p.add_argument("--out", required=True, help="output folder for label_prop_miou.json")

    p = command(
        "coordgan-benchmark",
        "CoordGAN: an encoder's label-propagation mIoU on an imported labelled benchmark (DatasetGAN face-34 / "
        "car-20, celebA-7), with the benchmark's reference and query rule (eval_corr.py)",
        _benchmark,
    )
    p.add_argument("checkpoint", help="a coordgan_encoder checkpoint")
    p.add_argument("data", help="the benchmark's images.zip (ganbench import-labelled)")
    p.add_argument("annotations", help="its annotations.h5")
    p.add_argument("--benchmark", required=True, choices=BENCHMARK_NAMES, help="which benchmark's rule")
    p.add_argument("--device", help="cpu, cuda or cuda:N (default: cpu)")
    p.add_argument("--out", required=True, help="output folder for label_prop_miou.json")

    p = command(
        "coordgan-swap",
        "CoordGAN: texture swap and structure swap distances of generated pairs (2k, 2k+1) and a texture swap grid",
        _swap,
    )
    p.add_argument("checkpoint", help="a CoordGAN training checkpoint")
    p.add_argument("--perceptual", required=True, help="LPIPS-VGG weights, or a probe.pt with --kind probe")
    p.add_argument("--kind", choices=("lpips_vgg", "probe"), default="lpips_vgg", help="the distance network")
    p.add_argument("--pairs", type=POSITIVE, default=5000, help="generated pairs (the official 5k)")
    p.add_argument("--batch", type=POSITIVE, default=16, help="images per forward pass; even (pairs)")
    p.add_argument("--seed", type=SEED, default=0, help="seed of the codes")
    p.add_argument(
        "--identity",
        choices=("ir-se50", "probe"),
        help="also swap_id / struc_swap_id: 1 - cos of ArcFace IR-SE50 embeddings, or of the probe's features",
    )
    p.add_argument("--identity-weights", help="the identity network's weights (model_ir_se50.pth, or a probe.pt)")
    p.add_argument("--out", required=True, help="output folder for swap_lpips.json, struc_swap_lpips.json, grid")


def _benchmark(args) -> None:
    from ganbench.metrics.correspondence_eval import evaluate_label_propagation

    _encoder_checkpoint(args.checkpoint)
    input_file(args.data, "images zip")
    input_file(args.annotations, "annotations file")
    device = check_device(args.device) or "cpu"
    out = output_dir(args.out)
    scores = evaluate_label_propagation(
        args.checkpoint, args.data, args.annotations, args.benchmark, out, device=device
    )
    print(f"label_prop_miou={scores['miou']:.2f}")


def _encoder_checkpoint(path):
    from ganbench.train.checkpoint import load_checkpoint

    ckpt = load_checkpoint(input_file(path, "checkpoint"), mmap=True)
    if ckpt["method"] != "coordgan_encoder":
        raise GanbenchError(f"{path}: a {ckpt['method']} checkpoint; this needs a coordgan_encoder checkpoint")
    return ckpt


def _correspondence(args) -> None:
    from ganbench.metrics.correspondence_eval import evaluate_correspondence

    _encoder_checkpoint(args.checkpoint)
    for path, what in ((args.data, "images zip"), (args.annotations, "annotations file"), (args.probe, "probe")):
        input_file(path, what)
    out = output_dir(args.out)
    device = check_device(args.device) or "cpu"
    results = evaluate_correspondence(
        args.checkpoint, args.data, args.annotations, args.probe, out, args.queries, device
    )
    for name, scores in results.items():
        print(name, " ".join(f"{k}={v:.4g}" if v is not None else f"{k}=-" for k, v in scores.items()))


def _read_pairs(specs, what):
    import numpy as np
    from PIL import Image

    images, masks = [], []
    for spec in specs:
        image_path, sep, mask_path = spec.rpartition(":")
        if not sep or not image_path:
            raise GanbenchError(f"{what} {spec!r}: expected IMAGE:MASK")
        image = np.asarray(Image.open(input_file(image_path, "image")).convert("RGB"))
        mask = np.asarray(Image.open(input_file(mask_path, "mask")))
        if mask.ndim != 2:
            raise GanbenchError(f"{mask_path}: a mask must have one channel of class ids, it has shape {mask.shape}")
        if mask.shape != image.shape[:2]:
            raise GanbenchError(
                f"{mask_path}: the mask is {mask.shape[1]}x{mask.shape[0]}, its image {image_path} is "
                f"{image.shape[1]}x{image.shape[0]}"
            )
        images.append(image)
        masks.append(mask)
    return images, masks


def _propagate(args) -> None:
    import numpy as np
    import torch
    import torch.nn.functional as F

    from ganbench.fileio import write_json
    from ganbench.metrics import correspondence as corr
    from ganbench.train.inputs import restore_method

    if len(args.refs) < corr.NUM_REFERENCES:
        raise GanbenchError(
            f"--refs: label propagation averages over {corr.NUM_REFERENCES} references, got {len(args.refs)}"
        )
    ref_images, ref_masks = _read_pairs(args.refs, "--refs")
    query_images, query_masks = _read_pairs(args.queries, "--queries")
    ckpt = _encoder_checkpoint(args.checkpoint)
    out = output_dir(args.out)
    for mask in ref_masks + query_masks:
        if mask.max() >= args.classes:
            raise GanbenchError(f"a mask holds class {int(mask.max())}, not below --classes {args.classes}")
    method = restore_method(ckpt, args.checkpoint)
    res = method.resolution
    tensors = [
        torch.from_numpy(np.ascontiguousarray(i)).permute(2, 0, 1).float() / 127.5 - 1
        for i in ref_images + query_images
    ]
    images = torch.stack(
        [F.interpolate(t[None], size=(res, res), mode="bilinear", align_corners=False)[0] for t in tensors]
    )
    with torch.no_grad():
        coords = list(method.coordinates(images))
    labels = [torch.from_numpy(m.astype(np.int64)) for m in ref_masks + query_masks]
    n_refs = len(ref_images)
    scores = corr.label_propagation_miou(
        coords,
        labels,
        list(range(n_refs)),
        list(range(n_refs, len(labels))),
        args.classes,
        list(range(1, args.classes)),
    )
    write_json(out / "label_prop_miou.json", {"metric": "label_prop_miou", "value": scores["miou"], **scores})
    print(f"label_prop_miou={scores['miou']:.2f}")


def _swap(args) -> None:
    from ganbench.metrics.coordgan_swap import (
        load_identity,
        load_perceptual,
        swap_grid,
        swap_scores,
        write_swap_scores,
    )
    from ganbench.train.inputs import restore_method
    from ganbench.train.loop import save_image_grid

    if args.batch % 2:
        raise GanbenchError(f"--batch {args.batch}: CoordGAN pairs samples (2k, 2k+1); give an even batch")
    if (args.identity is None) != (args.identity_weights is None):
        raise GanbenchError("--identity and --identity-weights: give both or neither")
    ckpt = checkpoint_method(args.checkpoint)
    if ckpt["method"] != "coordgan":
        raise GanbenchError(f"{args.checkpoint}: a {ckpt['method']} checkpoint; this needs a coordgan checkpoint")
    input_file(args.perceptual, "perceptual weights")
    distances = {"lpips": load_perceptual(args.kind, args.perceptual)}
    if args.identity:
        distances["id"] = load_identity(args.identity, input_file(args.identity_weights, "identity weights"))
    out = output_dir(args.out)
    method = restore_method(ckpt, args.checkpoint)
    scores = swap_scores(method, distances, args.pairs, args.batch, args.seed)
    run = {"method": ckpt["method"], "experiment": ckpt["experiment"].get("name"), "kimg": ckpt["nimg"] / 1000}
    write_swap_scores(scores, out, args.kind, args.pairs, run, args.identity)
    save_image_grid(swap_grid(method, range(6), range(100, 106)), out / "swap_grid.png", cols=6)
    print(" ".join(f"{k}={v:.4g}" for k, v in scores.items()))
