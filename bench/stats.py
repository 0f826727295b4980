"""Throughput of our reference-statistics extraction against torch-fidelity's, in the same run.

    python bench/stats.py [--count 2000] [--resolution 32] [--repeat 3]

Both read the same folder of PNGs and extract probe features (torch-fidelity with the probe
registered as its feature extractor). torch-fidelity is timed computing FID between the folder
and itself without its cache, i.e. extracting the folder twice, so its images/s counts 2N
images. Target: ours / torch-fidelity >= 0.95.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import PIL.Image
import torch_fidelity

from ganbench.data.build import make_synthetic_dataset
from ganbench.data.synthetic import iter_samples
from ganbench.metrics.extractors import load_extractor
from ganbench.metrics.probe import train_probe
from ganbench.metrics.stats import compute_stats


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=2000)
    parser.add_argument("--resolution", type=int, default=32)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        make_synthetic_dataset("face", args.resolution, 256, 0, 0.1, tmp / "p.zip", tmp / "p.h5")
        train_probe([tmp / "p.zip"], [tmp / "p.h5"], tmp / "probe.pt", steps=20, resolution=args.resolution)
        extractor = load_extractor("probe", tmp / "probe.pt")
        folder = tmp / "images"
        folder.mkdir()
        for i, sample in enumerate(iter_samples("face", args.resolution, args.count, seed=1)):
            PIL.Image.fromarray(sample.image).save(folder / f"{i:06d}.png")

        ours, theirs = [], []
        for r in range(args.repeat):
            start = time.perf_counter()
            compute_stats(folder, extractor, tmp / f"stats{r}.h5")
            ours.append(args.count / (time.perf_counter() - start))
            start = time.perf_counter()
            torch_fidelity.calculate_metrics(
                input1=str(folder),
                input2=str(folder),
                fid=True,
                cuda=False,
                cache=False,
                verbose=False,
                **extractor.fidelity_kwargs,
            )
            theirs.append(2 * args.count / (time.perf_counter() - start))
    a, b = statistics.median(ours), statistics.median(theirs)
    print(f"probe features of {args.count} PNGs at {args.resolution}px, median of {args.repeat}")
    print("| extraction | images/s |")
    print("|---|---:|")
    print(f"| ganbench compute_stats | {a:.0f} |")
    print(f"| torch-fidelity calculate_metrics | {b:.0f} |")
    print(f"ratio ganbench / torch-fidelity: {a / b:.2f}")


if __name__ == "__main__":
    main()
