"""Seam scores on hand-made images (ganbench.metrics.seams)."""

import pytest
import torch

from ganbench.metrics.seams import seam_score, wrap_seam_score


def _stepped(k: float, size: int = 4, patch: int = 2) -> torch.Tensor:
    # x[i, j] = j + k * (j // patch): slope 1 inside patches, 1 + k across each column border, flat vertically
    j = torch.arange(size, dtype=torch.float64)
    return (j + k * (j // patch)).expand(1, 1, size, size)


def test_seam_score_by_hand():
    # 4x4, patch 2. Borders: 4 column pairs of 1 + k, 4 row pairs of 0 -> mean (1 + k) / 2.
    # Inside: 8 column pairs of 1, 8 row pairs of 0 -> mean 1 / 2. Score 1 + k.
    assert seam_score(_stepped(3.0), 2) == pytest.approx(4.0)
    assert seam_score(_stepped(0.0), 2) == pytest.approx(1.0)  # a smooth ramp has no seams


def test_the_wrap_seam_of_a_panorama_by_hand():
    # one period of sin around a 12-column cylinder, 4 rows, patch 2: in-patch column steps
    # |sin 30°-sin 0°| = .5, .134, .366, .5, .134, .366 (mean 1/3), in-patch row steps 0 -> in-patch mean 1/6;
    # the wrap |sin 0° - sin 330°| = .5 -> 3; the interior column borders .366, .134, .5, .366, .134 -> .3 -> 1.8
    theta = torch.arange(12, dtype=torch.float64) * (2 * torch.pi / 12)
    smooth = torch.sin(theta).expand(1, 1, 4, 12).clone()
    scores = wrap_seam_score(smooth, 2)
    assert scores["wrap"] == pytest.approx(3.0)
    assert scores["interior_column"] == pytest.approx(1.8)
    smooth[..., -1] += 3  # a jump at the 360° seam: wrap 2.5, in-patch mean 5/12 -> 6
    assert wrap_seam_score(smooth, 2)["wrap"] == pytest.approx(6.0)


def test_sizes_must_be_a_grid():
    with pytest.raises(ValueError, match="not a grid"):
        seam_score(torch.zeros(1, 1, 6, 6), 4)
