"""CREPS (Nguyen et al., CVPR 2023): parameter counts of cfg=creps (research/creps.md §2.4), the any-scale
grids (§2.5), exact sub-grid and crop consistency, no spatial mixing, the dead parameters, the cfg=creps
defaults (§1.3) and exact resume through the shared training loop."""

from __future__ import annotations

import dataclasses
import json
import math

import pytest
import torch

from ganbench.methods.catalog import methods_with
from ganbench.errors import ConfigError
from ganbench.methods import Batch, Phase, StepContext, build_method
from ganbench.methods.creps import CREPS, CREPSOptions
from ganbench.metrics.gan_metrics import load_method
from ganbench.nets.creps import Generator, parameter_counts, scale_grid, unit_grid
from ganbench.nets.stylegan2 import Discriminator
from ganbench.train.batch_random import BatchRandom
from ganbench.train.checkpoint import load_checkpoint
from test_train import experiment, faces16, straight_and_killed  # noqa: F401 (faces16 is a fixture)

R = 16  # training resolution of the tiny models
TINY = {
    "z_dim": 64,
    "w_dim": 64,
    "channel_base": 2048,
    "channel_max": 64,
    "d_channel_base": 512,
    "d_channel_max": 32,
    "mapping_layers": 2,
    "augment": "none",
}
SEEDS = [0, 1, 2]


@pytest.fixture(scope="module")
def method() -> CREPS:
    torch.manual_seed(0)
    m = build_method("creps", TINY, R).eval()
    # A freshly built G_ema is G; perturb every parameter (biases start at zero, affines at one) so
    # that no part of the network is trivially constant.
    with torch.no_grad():
        for p in m.G_ema.parameters():
            p.add_(0.1 * torch.randn_like(p))
    return m


def nparams(module) -> int:
    return sum(p.numel() for p in module.parameters())


# ---------------------------------------------------------------------------------------------
# Parameter counts of cfg=creps, derived per layer from the architecture (research/creps.md §2.1-2.4)


def fc(i, o, bias=True):
    return i * o + (o if bias else 0)


def expected_counts(R, z=512, w=512, mapping_layers=8, base=65536, cmax=1024, rank=8, img=3):
    ch = lambda r: min(base // r, cmax)  # noqa: E731
    modfc = lambda i, o: fc(w, i) + fc(i, o)  # affine (w -> i) + weight [o, i] + bias  # noqa: E731
    levels = [2**k for k in range(2, int(math.log2(R)) + 1)]
    counts = {"mapping": fc(z, w) + (mapping_layers - 1) * fc(w, w)}  # w_avg is a buffer
    c4 = ch(4)
    fourier = c4 * 2 * rank + fc(w, c4 * 2 * rank)  # weight [C, 2, rank] + affine; freqs are a buffer
    counts["b4"] = fourier + modfc(c4, c4) + modfc(c4, 32)  # input, fc1, (dead) tores
    for r in levels[1:]:
        counts[f"b{r}"] = modfc(ch(r // 2), ch(r)) + modfc(ch(r), ch(r)) + modfc(ch(r), 32)
    decoder = fc(32, 64) + fc(64, 128) + fc(128, 64) + fc(64, 32)
    counts["decoders"] = len(levels) * decoder + fc(32, img)  # decoder_8 .. decoder_R, decoder_last, decoder_img
    counts["block0"] = modfc(32, 128) + modfc(128, 128) + modfc(128, img)
    counts["block1"] = modfc(128, 64) + modfc(64, 64) + modfc(64, img)
    counts["total"] = sum(counts.values())
    return counts, decoder


def millions(n, digits):
    return round(n / 1e6, digits)


@pytest.mark.parametrize("res", [64, 256, 512])
def test_cfg_creps_parameter_counts(res):
    with torch.device("meta"):  # nothing allocated
        G = Generator(img_resolution=res, mapping_kwargs={"num_layers": 8})
    counts = parameter_counts(G)
    expected, decoder = expected_counts(res)
    assert counts == expected
    assert G.num_ws == {64: 11, 256: 15, 512: 17}[res]
    assert "synthesis.b4.input.freqs" in dict(G.named_buffers()) and "mapping.w_avg" in dict(G.named_buffers())
    if res == 256:  # the table of research/creps.md §2.4, to its rounding
        assert counts["total"] == 30_530_825 and millions(counts["total"], 1) == 30.5
        assert millions(counts["mapping"], 2) == 2.10
        assert millions(counts["b4"], 2) == 10.55 and millions(nparams(G.synthesis.b4.input.affine), 2) == 8.40
        assert [millions(counts[f"b{r}"], 2) for r in (8, 16, 32, 64)] == [3.71] * 4
        assert millions(counts["b128"], 2) == 1.85 and millions(counts["b256"], 2) == 0.73
        decoders = [n for n, _ in G.synthesis.named_children() if n.startswith("decoder_") and n != "decoder_img"]
        assert len(decoders) == 7 and millions(decoder, 3) == 0.021
        assert all(nparams(getattr(G.synthesis, n)) == decoder for n in decoders)
        assert millions(counts["block0"], 3) == 0.169 and millions(counts["block1"], 3) == 0.144
    if res == 512:
        assert counts["total"] == 30_867_785 and millions(counts["total"], 1) == 30.9


def test_cfg_creps_discriminator_count_and_defaults():
    with torch.device("meta"):
        m = build_method("creps", {}, 256)
    # research/creps.md §2.4: the SG2 resnet D at 256 px with channel_base 32768 (not doubled), 28.9 M
    assert nparams(m.D) == 28_864_129 and millions(nparams(m.D), 1) == 28.9
    with torch.device("meta"):
        D = Discriminator(img_resolution=256, channel_base=32768, channel_max=512)
    assert nparams(D) == nparams(m.D)
    assert nparams(m.G) == 30_530_825 and m.G.num_ws == 15

    # cfg=creps (research/creps.md §1.3)
    o = m.options
    assert isinstance(o, CREPSOptions) and o == CREPSOptions()
    assert (o.z_dim, o.w_dim, o.channel_base, o.channel_max) == (512, 512, 65536, 1024)
    assert (o.d_channel_base, o.d_channel_max) == (32768, 512)
    assert (o.g_lr, o.d_lr, o.betas) == (0.002, 0.002, (0.0, 0.99))
    assert (o.pl_weight, o.style_mixing, o.mapping_layers, o.conv_clamp, o.mbstd_group) == (2, 0, 8, 256, 4)
    assert (o.g_reg_interval, o.d_reg_interval, o.rank, o.bandwidth) == (4, 16, 8, 10.0)
    assert len(m.G.mapping.fcs) == 8 and m.G.mapping.w_avg_beta == 0.998 and m.G_ema.mapping.w_avg_beta == 0.998
    assert m.G.mapping.fcs[0].weight.shape == (512, 512)
    specs = m.optimizer_specs()
    assert specs["G"].lr == specs["D"].lr == 0.002 and (specs["G"].reg_interval, specs["D"].reg_interval) == (4, 16)
    assert m.D.b256.conv0.conv_clamp == 256
    assert m.name == "creps" and m.name in methods_with("any_scale")


# ---------------------------------------------------------------------------------------------
# Grids (research/creps.md §2.5)


def test_grids():
    for s in (1, 2, 3, 4):
        g = scale_grid(R, s)
        assert len(g) == s * (R - 1) + 1 and g.dtype == torch.float32
        assert torch.equal(g[::s], unit_grid(R)) and g[0] == 0 and g[-1] == 1  # nested: contains the training grid
    for s in (1, 1.5, 2, 2.5):
        g = scale_grid(R, s, "paper")
        assert len(g) == int(R * s)
        torch.testing.assert_close(g, torch.linspace(0, 1, int(R * s)))  # the official make_coords
    assert not torch.equal(scale_grid(R, 2, "paper")[::2], unit_grid(R))  # the paper grid is not nested
    for bad in [dict(scale=1.5), dict(scale=0), dict(scale=-2), dict(scale=2, grid="square")]:
        with pytest.raises(ConfigError):
            scale_grid(R, **bad)
    torch.testing.assert_close(unit_grid(8, 0.25, 0.5), torch.linspace(0.25, 0.5, 8))


def test_sample_shapes(method):
    assert method.sample([0]).shape == (1, 3, R, R)
    assert method.sample([0, 1], scale=3).shape == (2, 3, 3 * (R - 1) + 1, 3 * (R - 1) + 1)
    assert method.sample([0], scale=1.5, grid="paper").shape == (1, 3, 24, 24)
    assert method.sample([0], scale=2, grid="paper").shape == (1, 3, 32, 32)
    with pytest.raises(ConfigError, match="integer scale"):
        method.sample([0], scale=1.5)
    with pytest.raises(ConfigError):
        method.sample([0], scale=2, grid="bogus")
    with pytest.raises(ConfigError):
        method.sample([0], rows=torch.zeros(0), cols=unit_grid(4))


def test_default_render_is_the_training_grid(method):
    z = torch.stack([torch.randn(TINY["z_dim"], generator=torch.Generator().manual_seed(s)) for s in SEEDS])
    with torch.no_grad():
        ws = method.G_ema.mapping(z, None)
        direct = method.G_ema.synthesis(ws)  # what the loss sees during training
    base = method.sample(SEEDS)
    assert torch.equal(base, direct)
    assert torch.equal(method.sample(SEEDS, scale=1, grid="paper"), base)
    assert base.std() > 1e-3 and torch.isfinite(base).all()
    assert not torch.allclose(base[0], base[1])


# ---------------------------------------------------------------------------------------------
# Scale consistency, chunking, crops


@pytest.mark.parametrize("s", [2, 4])
def test_nested_grid_subsampling_is_the_base_render(method, s):
    base = method.sample(SEEDS)
    big = method.sample(SEEDS, scale=s)
    assert big.shape[-2:] == (s * (R - 1) + 1,) * 2
    assert (big[..., ::s, ::s] - base).abs().max() < 1e-5
    # the in-between pixels are new content, not a copy of a neighbour
    assert (big[..., 1::s, ::s] - big[..., :-1:s, ::s]).abs().max() > 1e-3


def test_chunked_per_pixel_part_equals_unchunked(method):
    full = method.sample(SEEDS, scale=2, chunk_pixels=1 << 20)  # one chunk
    for chunk in (1, 3 * 31 * 5, 1000):  # one row, five rows, a size that does not divide the image
        torch.testing.assert_close(method.sample(SEEDS, scale=2, chunk_pixels=chunk), full, atol=1e-6, rtol=0)


def test_crop_equals_the_matching_pixels_of_a_full_render(method):
    g = scale_grid(R, 4)
    full = method.sample(SEEDS, scale=4)
    crop = method.sample(SEEDS, rows=g[10:30], cols=g[40:50])  # non-square
    assert crop.shape == (len(SEEDS), 3, 20, 10)
    assert (crop - full[..., 10:30, 40:50]).abs().max() < 1e-5

    # an arbitrary zoom window: its pixels are those of any render whose grid contains its coordinates
    rows, cols = unit_grid(8, 0.25, 0.5), unit_grid(5, 0.6, 0.9)
    zoom = method.sample(SEEDS, rows=rows, cols=cols)
    assert zoom.shape == (len(SEEDS), 3, 8, 5)
    big_rows, big_cols = torch.cat([unit_grid(R), rows]), torch.cat([cols, unit_grid(7)])
    both = method.sample(SEEDS, rows=big_rows, cols=big_cols)
    assert both.shape == (len(SEEDS), 3, R + 8, 5 + 7)
    assert (both[..., R:, :5] - zoom).abs().max() < 1e-5
    assert (both[..., :R, 5:] - method.sample(SEEDS, cols=unit_grid(7))).abs().max() < 1e-5
    # only rows given: the columns are the scale's grid
    only_rows = method.sample(SEEDS, rows=rows, scale=2)
    assert only_rows.shape == (len(SEEDS), 3, 8, 2 * R - 1)
    assert (only_rows - method.sample(SEEDS, rows=rows, cols=scale_grid(R, 2))).abs().max() < 1e-5


def test_no_spatial_mixing(method):
    rows, cols = unit_grid(R).clone(), unit_grid(R).clone()
    base = method.sample(SEEDS, rows=rows, cols=cols)
    k = 5
    moved = rows.clone()
    moved[k] += 0.37
    out = method.sample(SEEDS, rows=moved, cols=cols)
    others = [i for i in range(R) if i != k]
    assert torch.equal(out[..., others, :], base[..., others, :])
    assert (out[..., k, :] - base[..., k, :]).abs().amin(dim=-1).max() > 0  # the row changed...
    assert (out[..., k, :] - base[..., k, :]).abs().max() > 1e-3
    moved = cols.clone()
    moved[k] -= 0.21
    out = method.sample(SEEDS, rows=rows, cols=moved)
    assert torch.equal(out[..., :, others], base[..., :, others])  # ...and a moved column only its column
    assert (out[..., :, k] - base[..., :, k]).abs().max() > 1e-3


# ---------------------------------------------------------------------------------------------
# Gradients: the dead parameters (research/creps.md §2.3, §8.3) and everything else


@pytest.mark.parametrize("phase", ["Gmain", "Greg"])
def test_dead_parameters_get_no_gradient(phase):
    torch.manual_seed(0)
    m = build_method("creps", {**TINY, "pl_weight": 2.0}, R)
    with torch.no_grad():
        for p in m.G.parameters():
            p.add_(0.1 * torch.randn_like(p))
    m.requires_grad_(True)
    m.G_ema.requires_grad_(False)
    ctx = StepContext(
        rng=BatchRandom(7),
        step=0,
        nimg=0,
        rank=0,
        world_size=1,
        device=torch.device("cpu"),
        all_reduce_mean=lambda t: t,
    )
    real = torch.rand(4, 3, R, R) * 2 - 1
    losses = m.accumulate_gradients(
        Phase(phase, "G", 1 if phase == "Gmain" else 4), Batch(real, torch.zeros(4, 0)), ctx
    )
    assert all(torch.isfinite(v) for v in losses.values())
    dead = {n for n, _ in m.G.named_parameters() if n.startswith(("synthesis.b4.tores.", "synthesis.decoder_8."))}
    assert len(dead) == 4 + 8  # tores: affine weight and bias, weight, bias; decoder_8: 4 FC layers
    # the path-length penalty differentiates the image w.r.t. w: the biases added to the image (a
    # constant offset) do not enter it
    offsets = {"synthesis.decoder_img.bias", "synthesis.block0.tores.bias", "synthesis.block1.tores.bias"}
    for name, p in m.G.named_parameters():
        if name in dead or (phase == "Greg" and name in offsets):
            assert p.grad is None, name
        else:
            assert p.grad is not None and p.grad.abs().sum() > 0, name
    assert all(p.grad is None for p in m.G_ema.parameters())


# ---------------------------------------------------------------------------------------------
# Training through the shared loop: checkpoint, SIGKILL, exact resume, reload for sampling

TRAIN_OPTIONS = {
    "z_dim": 32,
    "w_dim": 32,
    "channel_base": 512,
    "channel_max": 32,
    "d_channel_base": 512,
    "d_channel_max": 32,
    "mapping_layers": 2,
    "augment": "none",
    "pl_weight": 2,
    "r1_gamma": 0.1,
}


def test_creps_killed_run_resumes_to_the_same_final_checkpoint(faces16, tmp_path):
    # 2 kimg at batch 32: 63 steps, snapshots at 1 and 2 kimg (snapshot_kimg is an integer in the schema);
    # G/D main, path length (every 4 steps) and R1 (every 16) all run before and after the kill
    exp = experiment(method="creps", options=dict(TRAIN_OPTIONS), kimg=2, batch=32, tick_kimg=0.5, snapshot_kimg=1)
    a, b = straight_and_killed(exp, faces16, tmp_path)
    assert a["method"] == b["method"] == "creps" and a["nimg"] == 2016
    # it trained between the snapshots, except the dead parameters (Adam skips parameters without a gradient)
    mid = load_checkpoint(tmp_path / "straight" / "checkpoint-000001.pt")["state"]
    assert not torch.equal(a["state"]["G.synthesis.b16.fc1.weight"], mid["G.synthesis.b16.fc1.weight"])
    assert not torch.equal(a["state"]["G.synthesis.decoder_16.0.weight"], mid["G.synthesis.decoder_16.0.weight"])
    for dead in ("decoder_8.0.weight", "decoder_8.3.bias", "b4.tores.weight", "b4.tores.affine.weight"):
        assert torch.equal(a["state"][f"G.synthesis.{dead}"], mid[f"G.synthesis.{dead}"]), dead
        assert torch.equal(a["state"][f"G.synthesis.{dead}"], a["state"][f"G_ema.synthesis.{dead}"]), dead
    assert (tmp_path / "killed" / "samples-000002.png").is_file()
    log = [json.loads(line) for line in (tmp_path / "killed" / "log.jsonl").read_text().splitlines()]
    kimgs = [r["kimg"] for r in log]
    assert kimgs == sorted(set(kimgs)) and kimgs[-1] == 2.016 and all("loss_G" in r for r in log)

    # the evaluator's path: rebuild from the checkpoint and render at another scale
    m = load_method(a)
    assert isinstance(m, CREPS)
    base, big = m.sample(SEEDS), m.sample(SEEDS, scale=2)
    assert base.shape == (3, 3, 16, 16) and big.shape == (3, 3, 31, 31) and torch.isfinite(big).all()
    assert (big[..., ::2, ::2] - base).abs().max() < 1e-5
    assert dataclasses.asdict(m.options) == {**dataclasses.asdict(CREPSOptions()), **TRAIN_OPTIONS}


def _save_method(method, path, name="tiny-creps"):
    exp = {"name": name, "options": dataclasses.asdict(method.options)}
    torch.save(
        {
            "format": 1,
            "method": method.name,
            "experiment": exp,
            "resolution": method.resolution,
            "img_channels": 3,
            "label_dim": 0,
            "state": method.state_dict(),
            "nimg": 0,
        },
        path,
    )
    return path


def test_cli_runs_the_any_scale_stages(method, tmp_path, capsys):
    from ganbench import cli

    ckpt = _save_method(method, tmp_path / "creps.pt")
    out = tmp_path / "eval"
    assert cli.main(["consistency", str(ckpt), "--out", str(out), "--scales", "2", "--images", "2"]) == 0
    assert json.loads((out / "subgrid_err-scale2.json").read_text())["value"] < 1e-5
    assert math.isfinite(json.loads((out / "psnr-scale2.json").read_text())["value"])
    assert cli.main(["render-cost", str(ckpt), "--out", str(out), "--scales", "2", "--repeats", "1"]) == 0
    for prefix in ("", "stylegan2-"):
        sizes = [
            json.loads((out / f"{prefix}time_ms-scale{s}.json").read_text())["protocol"]["output_size"] for s in (1, 2)
        ]
        assert sizes == [[R, R], [2 * R, 2 * R]]  # CREPS on the paper grid, StyleGAN2 built at R*s
        assert json.loads((out / f"{prefix}peak_mb-scale2.json").read_text())["value"] >= 0
    assert cli.main(["scale-figure", str(ckpt), "--out", str(tmp_path / "scales.png"), "--scales", "1", "2"]) == 0
    assert (tmp_path / "scales.png").stat().st_size > 0

    sg2 = build_method("stylegan2", {"z_dim": 16, "w_dim": 16, "channel_base": 256, "channel_max": 16}, R)
    capsys.readouterr()
    assert cli.main(["consistency", str(_save_method(sg2, tmp_path / "sg2.pt", "tiny-sg2")), "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "renders only its training grid" in err


def test_cli_eval_refuses_statistics_of_another_size_before_generating(method, tmp_path, capsys, monkeypatch):
    """--scale 2 needs the statistics of the data at R*2: those at R are refused in one line, exit 2, no output;
    a negative truncation is refused the same way."""
    from ganbench import cli
    from ganbench.data.build import make_synthetic_dataset
    from ganbench.metrics import gan_metrics
    from ganbench.metrics.probe import train_probe

    ckpt = _save_method(method, tmp_path / "creps.pt")
    make_synthetic_dataset("face", R, 8, 0, 0.25, tmp_path / "images.zip", tmp_path / "annotations.h5")
    probe = tmp_path / "probe.pt"
    train_probe([tmp_path / "images.zip"], [tmp_path / "annotations.h5"], probe, steps=2, resolution=R)
    stats = tmp_path / "stats.h5"
    assert cli.main(["stats", str(tmp_path / "images.zip"), str(stats), "--weights", str(probe)]) == 0

    def no_generation(*args, **kwargs):
        raise AssertionError("images were generated")

    monkeypatch.setattr(gan_metrics, "generated_features", no_generation)
    capsys.readouterr()
    out = tmp_path / "eval"
    common = [str(ckpt), str(stats), "--out", str(out), "--weights", str(probe), "--num-gen", "4"]
    assert cli.main(["eval", *common, "--scale", "2"]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and f"{stats}: statistics of {R} px images, but {ckpt} at scale 2 renders {2 * R} px" in err
    assert cli.main(["eval", *common, "--truncation", "-1"]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "argument --truncation: -1 is outside [0, inf]" in err
    assert not out.exists()
