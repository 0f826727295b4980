"""Memory and time of CREPS any-scale rendering with cfg=creps (30.5 M parameters at 256 px), up to 2048 x 2048.

    python bench/creps_render.py [--resolution 256] [--scales 2 4 8] [--repeats 1]

Every measurement runs in a fresh process (:func:`ganbench.metrics.any_scale.measure_in_subprocess`): peak
memory of one batch-1 render above the memory held before it, and the median time of ``--repeats`` renders.
Targets, both measured in this run:

- linear memory: peak MB per megapixel at the largest scale / at the smallest <= 1.0 (the per-pixel part
  runs in chunks, so memory grows with the output image and the bi-line part, not with the activations of
  every pixel at once);
- chunking pays: peak of the default chunked render / peak of an unchunked render at the middle scale < 1.0;
- the largest render (2048 x 2048 at the defaults) fits this machine (reported against its total memory).
"""

from __future__ import annotations

import argparse
import os

from ganbench.metrics.any_scale import measure_in_subprocess


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--resolution", type=int, default=256)
    parser.add_argument("--scales", type=int, nargs="+", default=[2, 4, 8])
    parser.add_argument("--repeats", type=int, default=1)
    args = parser.parse_args()
    common = {
        "method": "creps",
        "options": {},
        "resolution": args.resolution,
        "repeats": args.repeats,
        "device": "cpu",
        "threads": os.cpu_count(),
    }
    rows = {}
    print(f"CREPS cfg=creps trained at {args.resolution} px, batch 1, CPU ({os.cpu_count()} threads)")
    print(f"{'output':>11} {'ms/img':>10} {'peak MB':>9} {'MB/Mpx':>8}")
    for s in args.scales:
        m = measure_in_subprocess({**common, "scale": s})
        mpx = m["output_size"][0] * m["output_size"][1] / 1e6
        rows[s] = m | {"mb_per_mpx": m["peak_mb"] / mpx}
        print(
            f"{m['output_size'][0]:>5}x{m['output_size'][1]:<5} {m['time_ms']:>10.0f} {m['peak_mb']:>9.0f} "
            f"{rows[s]['mb_per_mpx']:>8.1f}"
        )
    middle = args.scales[len(args.scales) // 2]
    unchunked = measure_in_subprocess({**common, "scale": middle, "chunk_pixels": 1 << 40})
    total_mb = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**20
    first, last = rows[args.scales[0]], rows[args.scales[-1]]
    print(f"unchunked at {middle}x: {unchunked['peak_mb']:.0f} MB, {unchunked['time_ms']:.0f} ms")
    print(
        f"linear memory: MB/Mpx at {args.scales[-1]}x / at {args.scales[0]}x = "
        f"{last['mb_per_mpx'] / first['mb_per_mpx']:.2f} (target <= 1.0)"
    )
    print(
        f"chunking: peak chunked / unchunked at {middle}x = {rows[middle]['peak_mb'] / unchunked['peak_mb']:.2f} "
        f"(target < 1.0)"
    )
    print(
        f"largest render: {last['peak_mb']:.0f} MB of {total_mb:.0f} MB on this machine "
        f"({last['peak_mb'] / total_mb:.2f})"
    )


if __name__ == "__main__":
    main()
