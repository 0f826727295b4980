"""COCO-GAN's training step through the loop's phase runner (research cocogan.md §2.5, §2.7, §2.9)."""

import pytest
import torch

from ganbench.errors import ConfigError, GanbenchError
from ganbench.methods import build_method
from ganbench.methods.base import Batch, InputInfo
from ganbench.methods.cocogan import gradient_penalty
from ganbench.nets.cocogan import Discriminator
from ganbench.train.distributed import init_world
from ganbench.train.loop import _Phases, make_optimizers

SMALL = dict(macro_size=16, micro_size=8, ngf=4, ndf=4, aux_dim=16, z_dim=16)


def _runner(method):
    return _Phases(method, make_optimizers(method), init_world("cpu"), 0, "fp32")


def _batch(n=4, width=32):
    torch.manual_seed(1)
    return Batch(torch.rand(n, 3, 32, width) * 2 - 1, torch.zeros(n, 0))


def _params(module):
    return [p.detach().clone() for p in module.parameters()]


def _changed(before, module):
    return [not torch.equal(a, b) for a, b in zip(before, module.parameters())]


def test_the_coordinate_head_trains_in_both_players_phases():
    torch.manual_seed(0)
    m = build_method("cocogan", SMALL, 32)
    runner, batch = _runner(m), _batch()
    phases = {p.name: p for p in m.phases()}
    assert list(phases) == ["Dmain", "Gmain"]
    for name in ("Dmain", "Gmain"):
        c, g, d = _params(m.C), _params(m.G), _params(m.D)
        logged = runner.run(phases[name], 0, 0, [batch])
        assert any(_changed(c, m.C)), name
        assert any(_changed(g, m.G)) == (name == "Gmain")
        assert any(_changed(d, m.D)) == (name == "Dmain")
    assert {"w_dist", "gp_slopes", "loss_coord_D"} <= set(runner.run(phases["Dmain"], 1, 4, [batch]))
    assert "loss_coord_G" in logged


def test_q_trains_only_in_its_phase_and_guides_generation():
    torch.manual_seed(0)
    m = build_method("cocogan", {**SMALL, "code_loss_w": 100}, 32)
    runner, batch = _runner(m), _batch()
    for step in range(2):
        for phase in m.phases():
            q = _params(m.Q)
            runner.run(phase, step, 4 * step, [batch])
            assert any(_changed(q, m.Q)) == (phase.name == "Qmain")
    real = batch.images[:2]
    guided = m.reconstruct(real)
    assert torch.equal(guided, m.sample([], z=m.estimate_latent(real)))
    assert not torch.equal(guided, m.sample([0, 1]))


def test_extrapolation_trains_only_the_first_two_generator_blocks():
    torch.manual_seed(0)
    parent = InputInfo("cocogan", SMALL, 32)
    m = build_method("cocogan_extrap", SMALL, 32, parents={"parent": parent})
    runner, batch = _runner(m), _batch()
    phases = {p.name: p for p in m.phases()}
    assert list(phases) == ["Dmain", "Gmain", "Dextrap", "Gextrap"]
    rest = [m.G.fc, m.G.head_norm, m.G.head_conv, m.C]
    before = [_params(x) for x in rest]
    blocks = _params(m.G.blocks)
    runner.run(phases["Gextrap"], 0, 0, [batch])
    assert all(not any(_changed(b, x)) for b, x in zip(before, rest))
    assert any(_changed(blocks, m.G.blocks))
    assert m.sample([0], extrap=1).shape == (1, 3, 48, 48)
    with pytest.raises(GanbenchError, match="options.ngf is 4, the parent's is 8"):
        build_method(
            "cocogan_extrap", {**SMALL, "ngf": 4}, 32, parents={"parent": InputInfo("cocogan", {**SMALL, "ngf": 8}, 32)}
        )


def test_out_of_bound_coordinates_pass_no_gradient():
    m = build_method("cocogan", SMALL, 32)
    m.C.eval()  # batch norm in training mode would couple the two samples
    h = torch.randn(2, m.D.features, requires_grad=True)
    macro = torch.tensor([[0.0, 0.0], [2.0, 0.0]])  # the second is past the border
    m._coord_loss(h, macro).backward()
    assert h.grad[0].abs().sum() > 0 and torch.equal(h.grad[1], torch.zeros_like(h.grad[1]))


def test_gradient_penalty_forms():
    torch.manual_seed(0)
    d = Discriminator((16, 16), 2, ndf=2).eval()
    real, fake = torch.randn(3, 3, 16, 16), torch.randn(3, 3, 16, 16)
    gp, slopes = gradient_penalty(d, real, fake, "official", torch.rand(3, 3, 16, 16))
    assert slopes.shape == (3, 3, 16)  # one slope per sample, channel and column (norm over the height)
    gp2, slopes2 = gradient_penalty(d, real, fake, "per_sample", torch.full((3, 1, 1, 1), 0.5))
    x = (real + fake) / 2
    x.requires_grad_(True)
    (grad,) = torch.autograd.grad(d(x)[0].sum(), x)
    torch.testing.assert_close(slopes2, grad.flatten(1).norm(dim=1))
    torch.testing.assert_close(gp2, (slopes2 - 1).square().mean())


def test_a_panorama_wraps_past_one_turn():
    m = build_method("cocogan", {**SMALL, "width": 96, "coordinate_system": "cylindrical"}, 32)
    runner = _runner(m)
    for phase in m.phases():
        runner.run(phase, 0, 0, [_batch(width=96)])
    one_turn = m.panorama([3])
    longer = m.panorama([3], columns=16)
    assert one_turn.shape == (1, 3, 32, 96)
    assert torch.equal(longer[..., :96], one_turn)
    assert torch.equal(longer[..., 96:], one_turn[..., :32])  # column 12 is column 0 again


def test_bad_lattice_options_are_one_line_config_errors():
    with pytest.raises(ConfigError, match="macro_size: 24 is not a multiple of micro_size 16"):
        build_method("cocogan", {"macro_size": 24}, 64)
    from ganbench.methods.options import COCOGANOptions

    assert "not tiled" in COCOGANOptions(macro_size=16, micro_size=8).check_experiment(36, 4)
