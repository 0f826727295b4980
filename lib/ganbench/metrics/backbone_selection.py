"""Vision-aided GAN's model selection by linear probe (research visionaided.md §2.5, ``model_selection.py``).

For each candidate backbone, repeated ``repeats`` (3) times and averaged: the pooled features (the official ``pool``
output, no augmentation) of the training set in order, up to ``max_images`` (10,000), and of as many images of the
generator (``G_ema``, psi 1, fresh seeds each repeat), each randomly split 50/50 into train and validation; a
scikit-learn ``LogisticRegression(random_state=0, max_iter=5000, C=0.2)`` fit on the train halves (real = 1,
fake = 0) and scored by accuracy on the validation halves. The most separable candidate is selected; its loss gets
the ``_s`` label smoothing when its accuracy is above 0.9 or the vision-aided branch uses DiffAugment (the
official driver's rule). The result (json) names the chosen backbone, its loss, its weights file and every
candidate's accuracy.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import torch

from ganbench.errors import GanbenchError
from ganbench.fileio import atomic_path
from ganbench.nets.backbones import BACKBONES, OFFLINE, backbone_spec, build_backbone, load_backbone
from ganbench.nets.vision_heads import default_loss

MAX_IMAGES = 10_000
REPEATS = 3
SMOOTH_ABOVE = 0.9
PROBE_C, PROBE_MAX_ITER = 0.2, 5000


def probe_accuracy(real: np.ndarray, fake: np.ndarray, seed: int) -> float:
    """Validation accuracy of a logistic regression separating ``real`` from ``fake`` features (rows), each set
    split 50/50 at random."""
    from sklearn.linear_model import LogisticRegression

    rng = np.random.default_rng(seed)
    r, f = rng.permutation(len(real)), rng.permutation(len(fake))
    hr, hf = len(r) // 2, len(f) // 2
    if min(hr, hf, len(r) - hr, len(f) - hf) < 1:
        raise GanbenchError(f"the linear probe needs at least 2 real and 2 generated images, got {len(r)}, {len(f)}")
    x_train = np.concatenate([real[r[:hr]], fake[f[:hf]]])
    y_train = np.concatenate([np.ones(hr), np.zeros(hf)])
    x_val = np.concatenate([real[r[hr:]], fake[f[hf:]]])
    y_val = np.concatenate([np.ones(len(r) - hr), np.zeros(len(f) - hf)])
    clf = LogisticRegression(random_state=0, max_iter=PROBE_MAX_ITER, C=PROBE_C).fit(x_train, y_train)
    return float(clf.score(x_val, y_val))


@torch.no_grad()
def pooled_features(backbone, images: torch.Tensor, batch: int = 64) -> np.ndarray:
    return torch.cat([backbone.pooled(images[i : i + batch]).float() for i in range(0, len(images), batch)]).numpy()


def select_from_features(
    features: dict[str, list[tuple[np.ndarray, np.ndarray]]], diffaugment: bool = False, seed: int = 0
) -> dict:
    """``features``: candidate -> one (real, fake) pair of feature arrays per repeat. The selection record."""
    accuracies = {
        name: [probe_accuracy(real, fake, seed + i) for i, (real, fake) in enumerate(pairs)]
        for name, pairs in features.items()
    }
    means = {name: float(np.mean(a)) for name, a in accuracies.items()}
    chosen = max(means, key=lambda n: (means[n], -list(means).index(n)))  # ties: the earlier candidate
    smooth = means[chosen] > SMOOTH_ABOVE or diffaugment
    return {
        "selected": chosen,
        "accuracy": means[chosen],
        "smooth": smooth,
        "loss": default_loss(chosen, smooth),
        "accuracies": means,
        "accuracies_per_repeat": accuracies,
    }


def select_backbone(
    generator_checkpoint: str | os.PathLike,
    data_path: str | os.PathLike,
    candidates: dict[str, str | None],
    out_path: str | os.PathLike,
    diffaugment: bool = False,
    max_images: int = MAX_IMAGES,
    repeats: int = REPEATS,
    seed: int = 0,
    probe_options: dict | None = None,
    device: str = "cpu",
) -> dict:
    """Probe every candidate (name -> its weights file, None for ``random``) on real images of ``data_path``
    against the generator of ``generator_checkpoint``; write and return the selection record."""
    from ganbench.data.sources import open_source
    from ganbench.train.checkpoint import load_checkpoint
    from ganbench.train.inputs import InputFile, _with_prefix, restore_method, source_state

    if not candidates:
        raise GanbenchError("backbone selection: no candidates left")
    ckpt = load_checkpoint(generator_checkpoint)
    gan = restore_method(ckpt, generator_checkpoint, device)
    source = open_source(data_path)
    n = min(len(source), max_images)
    real = torch.from_numpy(np.stack([source.read_image(i) for i in range(n)])).permute(0, 3, 1, 2)
    real = real.float().div(127.5).sub(1).to(device)
    probe = {k: v for k, v in (probe_options or {}).items() if k.startswith("probe_")}
    # the generated images of each repeat are drawn once and shown to every candidate (fresh seeds per repeat)
    fakes = []
    for r in range(repeats):
        seeds = list(range(seed + r * n, seed + (r + 1) * n))
        fakes.append(torch.cat([gan.sample(seeds[i : i + 64]) for i in range(0, n, 64)]))
    features: dict[str, list] = {}
    for name, weights in candidates.items():
        spec = backbone_spec(name)
        backbone = build_backbone(name, **probe).to(device)
        if spec.weights is not None:
            if weights is None or not Path(weights).is_file():
                raise GanbenchError(f"backbone {name}: weights file {weights} not found")
            state = _with_prefix(source_state(InputFile(name, "weights", str(weights), "")), spec.source_part)
            load_backbone(backbone, state, str(weights))
        real_feats = pooled_features(backbone, real)
        features[name] = [(real_feats, pooled_features(backbone, fake)) for fake in fakes]
    record = select_from_features(features, diffaugment, seed)
    record.update(
        weights=candidates[record["selected"]],
        source_part=BACKBONES[record["selected"]].source_part,
        candidates=list(candidates),
        generator=str(generator_checkpoint),
        real_images=n,
        fake_images=n,
        repeats=repeats,
        protocol=f"linear probe: LogisticRegression(C={PROBE_C}, max_iter={PROBE_MAX_ITER}), 50/50 split, "
        f"{repeats} repeats, pooled features, min(N, {max_images}) real vs as many generated",
        offline=[c for c in candidates if c in OFFLINE],
        probe_options=probe,
    )
    with atomic_path(out_path) as tmp:
        Path(tmp).write_text(json.dumps(record, indent=2) + "\n")
    return record


def selection_table(record: dict, name: str) -> str:
    """The probe accuracies of one selection as a markdown table (one row per candidate, the chosen one marked)."""
    lines = [
        f"Table: Linear-probe model selection {name}: validation accuracy of real vs generated "
        f"({record['real_images']} real, {record['fake_images']} generated, mean of {record['repeats']} repeats; "
        f"{record['protocol']}). Selected: {record['selected']}, loss {record['loss']} "
        f"(_s when accuracy > {SMOOTH_ABOVE} or DiffAugment). Offline candidates: the trained probe (R/4 and R/2 "
        "depths) and an untrained random network (the negative control).",
        "",
        "| candidate | accuracy | per repeat | selected |",
        "|---|---|---|---|",
    ]
    for cand, acc in record["accuracies"].items():
        per = ", ".join(f"{a:.3f}" for a in record["accuracies_per_repeat"][cand])
        lines.append(f"| {cand} | {acc:.3f} | {per} | {'yes' if cand == record['selected'] else ''} |")
    return "\n".join(lines) + "\n"
