"""Importing the papers' released networks (ganbench.nets.importers) from pickles this module builds itself.

No official code and no network: small stand-in classes registered under the official module names
(``torch_utils.persistence._reconstruct_persistent_obj``, ``dnnlib.util.EasyDict``, ``dnnlib.tflib.network.Network``,
``training.networks_creps.SynthesisInput``) pickle into the official layouts, filled with the weights of a small
ganbench network mapped back to the official names and layouts (research/checkpoints.md). The stand-ins are
unregistered before anything is loaded, so the importer cannot lean on them. Importing must give ganbench's
networks the same outputs from the same weights (G with fixed z and noise_mode const, D).
"""

from __future__ import annotations

import contextlib
import pickle
import re
import sys
import types
from collections import OrderedDict

import numpy as np
import pytest
import torch
from ganbench.errors import GanbenchError
from ganbench.methods import build_method
from ganbench.methods.base import InputInfo
from ganbench.nets.importers import (
    import_network,
    imported_checkpoint,
    write_imported_checkpoint,
)
from ganbench.train.checkpoint import load_checkpoint
from ganbench.train.inputs import (
    InputFile,
    init_parts,
    parent_infos,
    restore_method,
    source_state,
)

SG2 = {
    "z_dim": 16,
    "w_dim": 16,
    "mapping_layers": 2,
    "channel_base": 128,
    "channel_max": 32,
    "mbstd_group": 4,
    "augment": "none",
}
CREPS = {
    "z_dim": 16,
    "w_dim": 16,
    "mapping_layers": 2,
    "channel_base": 256,
    "channel_max": 32,
    "d_channel_base": 128,
    "d_channel_max": 32,
    "mbstd_group": 4,
    "augment": "none",
    "rank": 4,
}
BUFFERS = ("noise_const", "w_avg", "freqs")
FILTER = torch.tensor([1.0, 3, 3, 1]).outer(torch.tensor([1.0, 3, 3, 1])) / 64


# --- stand-ins for the official classes, registered only while pickling ---------------------------------------


class _Official:
    """Fake official modules: sys.modules entries that pickle resolves the stand-ins' globals through."""

    def __init__(self):
        def _reconstruct_persistent_obj(meta):  # never called: loading goes through ganbench's unpickler
            raise AssertionError("official code ran")

        _reconstruct_persistent_obj.__module__ = "torch_utils.persistence"
        _reconstruct_persistent_obj.__qualname__ = "_reconstruct_persistent_obj"
        self.reconstruct = _reconstruct_persistent_obj
        self.EasyDict = type("EasyDict", (dict,), {"__module__": "dnnlib.util"})
        self.Network = type(
            "Network", (), {"__module__": "dnnlib.tflib.network", "__getstate__": lambda self: self._state}
        )
        self.SynthesisInput = type("SynthesisInput", (), {"__module__": "training.networks_creps"})
        self.modules = {
            "torch_utils": types.ModuleType("torch_utils"),
            "torch_utils.persistence": types.ModuleType("torch_utils.persistence"),
            "dnnlib": types.ModuleType("dnnlib"),
            "dnnlib.util": types.ModuleType("dnnlib.util"),
            "dnnlib.tflib": types.ModuleType("dnnlib.tflib"),
            "dnnlib.tflib.network": types.ModuleType("dnnlib.tflib.network"),
            "training": types.ModuleType("training"),
            "training.networks_creps": types.ModuleType("training.networks_creps"),
        }
        self.modules["torch_utils.persistence"]._reconstruct_persistent_obj = _reconstruct_persistent_obj
        self.modules["dnnlib.util"].EasyDict = self.EasyDict
        self.modules["dnnlib.tflib.network"].Network = self.Network
        self.modules["training.networks_creps"].SynthesisInput = self.SynthesisInput

    @contextlib.contextmanager
    def registered(self):
        saved = {k: sys.modules.get(k) for k in self.modules}
        sys.modules.update(self.modules)
        try:
            yield self
        finally:
            for k, v in saved.items():
                if v is None:
                    sys.modules.pop(k, None)
                else:
                    sys.modules[k] = v


OFFICIAL = _Official()


class Persistent:
    """Pickles as the official persistence decorator does: (_reconstruct_persistent_obj, (meta,), None)."""

    def __init__(self, class_name: str, state: dict, version: int = 6):
        self.class_name, self.state, self.version = class_name, state, version

    def __reduce__(self):
        meta = {
            "type": "class",
            "version": self.version,
            "module_src": "raise SystemExit('executed')\n",
            "class_name": self.class_name,
            "state": self.state,
        }
        return OFFICIAL.reconstruct, (meta,), None


def module_state(tensors: dict, children: dict, **attrs) -> dict:
    """A torch.nn.Module __dict__ as the official pickles hold it."""
    params = OrderedDict(
        (k, torch.nn.Parameter(v.clone(), requires_grad=False))
        for k, v in tensors.items()
        if k not in BUFFERS and k not in ("resample_filter", "coords")
    )
    buffers = OrderedDict((k, v.clone()) for k, v in tensors.items() if k not in params)
    return {
        "training": False,
        "_parameters": params,
        "_buffers": buffers,
        "_non_persistent_buffers_set": set(),
        "_forward_hooks": OrderedDict(),
        "_modules": OrderedDict(children),
        "_init_args": (),
        "_init_kwargs": OFFICIAL.EasyDict(),
        **attrs,
    }


CLASS_NAMES = [
    (r"^mapping$", "MappingNetwork"),
    (r"^synthesis$", "SynthesisNetwork"),
    (r"fc\d+$|affine$|out$|fc$", "FullyConnectedLayer"),
    (r"torgb$", "ToRGBLayer"),
    (r"^synthesis\.b\d+$", "SynthesisBlock"),
    (r"synthesis\.b\d+\.conv\d$", "SynthesisLayer"),
    (r"^b4$", "DiscriminatorEpilogue"),
    (r"^b\d+$", "DiscriminatorBlock"),
    (r"conv\d?$|fromrgb$|skip$", "Conv2dLayer"),
]


def official_tree(state: dict, top: str, kwargs: dict, attrs_of=lambda path: {}, plain=lambda path: None):
    """Nest a flat official-named state dict into Persistent module stand-ins (``plain(path)`` may return another
    object to use for a module instead)."""
    tree: dict = {}
    for key, value in state.items():
        *path, leaf = key.split(".")
        node = tree
        for part in path:
            node = node.setdefault(part, {})
        node.setdefault("__tensors__", {})[leaf] = value

    def build(node, path):
        children = {k: build(v, f"{path}.{k}".lstrip(".")) for k, v in node.items() if k != "__tensors__"}
        state_ = module_state(node.get("__tensors__", {}), children, **attrs_of(path))
        made = plain(path)
        if made is not None:
            made.__dict__.update(state_) if not isinstance(made, torch.nn.Module) else made._modules.update(children)
            return made
        name = next((n for pattern, n in CLASS_NAMES if re.search(pattern, path)), "Module")
        return Persistent(name, state_)

    root = build(tree, "")
    root.class_name = top
    root.state["_init_kwargs"] = kwargs
    return root


def _perturbed(method, seed: int):
    """Every tensor of G, G_ema and D moved away from its initialisation (zero biases and noise strengths
    would hide mapping errors); G_ema differs from G."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for part in (method.G, method.G_ema, method.D):
            for t in list(part.parameters()) + [b for n, b in part.named_buffers() if n.endswith(BUFFERS)]:
                t.add_(torch.randn(t.shape, generator=gen) * 0.3)
    return method


def official_names(state: dict) -> dict:
    return {re.sub(r"^mapping\.fcs\.(\d+)\.", r"mapping.fc\1.", k): v for k, v in state.items()}


def with_filters(state: dict, modules) -> dict:
    out = dict(state)
    for name in modules:
        out[f"{name}.resample_filter"] = FILTER.clone()
    return out


def ada_like(method, R: int, nested: bool = True, drop=(), **overrides):
    """{G, D, G_ema, augment_pipe, training_set_kwargs} as StyleGAN2-ADA-PyTorch (nested kwargs) or StyleGAN3
    (flat) writes it, from a ganbench StyleGAN2 method."""
    o = method.options
    res = [2**i for i in range(2, int(np.log2(R)) + 1)]
    syn_kwargs = OFFICIAL.EasyDict(
        channel_base=o.channel_base, channel_max=o.channel_max, num_fp16_res=0, conv_clamp=None
    )
    base = {
        "z_dim": o.z_dim,
        "c_dim": method.label_dim,
        "w_dim": o.w_dim,
        "img_resolution": R,
        "img_channels": 3,
        "mapping_kwargs": OFFICIAL.EasyDict(num_layers=o.mapping_layers),
    }
    g_kwargs = (
        OFFICIAL.EasyDict(**base, synthesis_kwargs=syn_kwargs) if nested else OFFICIAL.EasyDict(**base, **syn_kwargs)
    )
    g_kwargs.update(overrides)
    g_mods = [f"synthesis.b{r}" for r in res] + [f"synthesis.b{r}.conv{i}" for r in res for i in (0, 1) if r > 4 or i]

    def g_attrs(path):
        if re.fullmatch(r"synthesis\.b\d+\.conv\d", path):
            return {"conv_clamp": None, "activation": "lrelu", "use_noise": True, "weight_gain": np.float64(0.1)}
        if re.fullmatch(r"synthesis\.b\d+", path):
            return {"architecture": "skip", "use_fp16": False}
        if re.fullmatch(r"mapping\.fc\d+", path):
            return {"activation": "lrelu", "bias_gain": 0.01, "weight_gain": np.float64(0.01 / 4)}
        return {"w_avg_beta": 0.995} if path == "mapping" else {}

    def g(part):
        state = with_filters(official_names(part.state_dict()), g_mods)
        return official_tree(state, "Generator", g_kwargs, g_attrs)

    d_res = res[1:]
    d_mods = (
        [f"b{r}" for r in d_res]
        + [f"b{r}.{n}" for r in d_res for n in ("conv0", "conv1", "skip")]
        + [f"b{R}.fromrgb"]
        + ["b4.conv"]
    )
    d_state = with_filters(official_names(method.D.state_dict()), d_mods)
    d_state = {k: v for k, v in d_state.items()}
    d_kwargs = OFFICIAL.EasyDict(
        c_dim=method.label_dim,
        img_resolution=R,
        img_channels=3,
        architecture="resnet",
        channel_base=o.channel_base,
        channel_max=o.channel_max,
        num_fp16_res=0,
        conv_clamp=None,
        epilogue_kwargs=OFFICIAL.EasyDict(mbstd_group_size=o.mbstd_group),
    )

    def d_attrs(path):
        if re.fullmatch(r"b\d+", path) and path != "b4":
            return {"architecture": "resnet", "use_fp16": False}
        if re.fullmatch(r"b\d+\.conv0", path):
            return {"conv_clamp": None}
        return {}

    D = official_tree(d_state, "Discriminator", d_kwargs, d_attrs)
    # the epilogue's minibatch-stddev layer has no tensors: add it by hand
    D.state["_modules"]["b4"].state["_modules"]["mbstd"] = Persistent(
        "MinibatchStdLayer", module_state({}, {}, group_size=o.mbstd_group, num_channels=1)
    )
    top = {
        "G": g(method.G),
        "D": D,
        "G_ema": g(method.G_ema),
        "augment_pipe": None,
        "training_set_kwargs": {"class_name": "training.dataset.ImageFolderDataset", "resolution": R},
    }
    for key in drop:
        top.pop(key)
    return top


def creps_like(method, R: int):
    """A CREPS pickle: bi-line input in the official layout (plain class, coords buffer), decoders as real
    torch.nn.Sequential holding persistent layers."""
    o = method.options
    kwargs = OFFICIAL.EasyDict(
        z_dim=o.z_dim,
        c_dim=0,
        w_dim=o.w_dim,
        img_resolution=R,
        img_channels=3,
        channel_base=o.channel_base,
        channel_max=o.channel_max,
        mapping_kwargs=OFFICIAL.EasyDict(num_layers=o.mapping_layers),
    )

    def plain(path):
        if path == "synthesis.b4.input":
            return OFFICIAL.SynthesisInput()
        if re.fullmatch(r"synthesis\.decoder_(\d+|last)", path):
            return torch.nn.Sequential()
        return None

    def g(part):
        state = official_names(part.state_dict())
        C, _, k = state["synthesis.b4.input.weight"].shape
        state["synthesis.b4.input.weight"] = state["synthesis.b4.input.weight"].reshape(1, C, 1, 2 * k)
        state["synthesis.b4.input.freqs"] = state["synthesis.b4.input.freqs"].reshape(1, C // 2 * k)
        state["synthesis.b4.input.coords"] = torch.linspace(0, 1, R).reshape(1, R, 1, 1).repeat(1, 1, 2, 1)
        return official_tree(state, "Generator", kwargs, plain=plain)

    sg2 = ada_like(_as_sg2(method), R, nested=False)
    return {
        "G": g(method.G),
        "D": sg2["D"],
        "G_ema": g(method.G_ema),
        "augment_pipe": None,
        "training_set_kwargs": None,
    }


def _as_sg2(method):
    """A view of a CREPS method's D through StyleGAN2 options (for ada_like's discriminator)."""
    o = method.options
    view = types.SimpleNamespace(
        options=types.SimpleNamespace(
            channel_base=o.d_channel_base,
            channel_max=o.d_channel_max,
            z_dim=o.z_dim,
            w_dim=o.w_dim,
            mapping_layers=o.mapping_layers,
            mbstd_group=o.mbstd_group,
        ),
        G=method.G,
        G_ema=method.G_ema,
        D=method.D,
        label_dim=method.label_dim,
    )
    view.D_state = method.D.state_dict()
    return view


def tf_like(method, R: int, version: int = 4, extra_g_kwargs=None):
    """(G, D, Gs) TF Network stand-ins whose variables are ganbench's weights in TF's names and layouts."""
    o = method.options
    res = [2**i for i in range(2, int(np.log2(R)) + 1)]

    def net(name, kwargs, variables, components=None):
        n = OFFICIAL.Network()
        n._state = {
            "version": version,
            "name": name,
            "static_kwargs": OFFICIAL.EasyDict(kwargs),
            "components": OFFICIAL.EasyDict(components or {}),
            "build_module_src": "raise SystemExit\n",
            "build_func_name": f"G_{name}",
            "variables": list(variables.items()),
        }
        return n

    def conv(w, flip=False):  # [O, I, kh, kw] -> TF's [kh, kw, I, O], up-convs flipped in space
        a = w.numpy().transpose(2, 3, 1, 0)
        return (a[::-1, ::-1] if flip else a).copy()

    def modulated(s, ours, tf, out, flip=False, noise=None):
        out[f"{tf}/weight"] = conv(s[f"{ours}.weight"], flip)
        out[f"{tf}/bias"] = s[f"{ours}.bias"].numpy()
        out[f"{tf}/mod_weight"] = s[f"{ours}.affine.weight"].numpy().T.copy()
        out[f"{tf}/mod_bias"] = s[f"{ours}.affine.bias"].numpy() - 1
        if noise is not None:
            out[f"{tf}/noise_strength"] = s[f"{ours}.noise_strength"].numpy()
            out[noise] = s[f"{ours}.noise_const"].numpy()[None, None]

    kwargs = {
        "num_channels": 3,
        "resolution": R,
        "label_size": 0,
        "fmap_base": o.channel_base // 2,
        "fmap_max": o.channel_max,
        "latent_size": o.z_dim,
        "dlatent_size": o.w_dim,
        "mapping_fmaps": o.w_dim,
        "mapping_layers": o.mapping_layers,
        **(extra_g_kwargs or {}),
    }

    def g(part, name):
        s = {k: v.detach() for k, v in part.state_dict().items()}
        mapping = {
            f"Dense{i}/{p}": (
                s[f"mapping.fcs.{i}.{p}"].numpy().T.copy() if p == "weight" else s[f"mapping.fcs.{i}.{p}"].numpy()
            )
            for i in range(o.mapping_layers)
            for p in ("weight", "bias")
        }
        syn = {"4x4/Const/const": s["synthesis.b4.const"].numpy()[None], "lod": np.float32(0)}
        modulated(s, "synthesis.b4.conv1", "4x4/Conv", syn, noise="noise0")
        for r in res:
            if r > 4:
                k = 2 * int(np.log2(r))
                modulated(s, f"synthesis.b{r}.conv0", f"{r}x{r}/Conv0_up", syn, flip=True, noise=f"noise{k - 5}")
                modulated(s, f"synthesis.b{r}.conv1", f"{r}x{r}/Conv1", syn, noise=f"noise{k - 4}")
            modulated(s, f"synthesis.b{r}.torgb", f"{r}x{r}/ToRGB", syn)
        return net(
            name,
            kwargs,
            {"dlatent_avg": s["mapping.w_avg"].numpy(), "lod": np.float32(0)},
            {"mapping": net("G_mapping", kwargs, mapping), "synthesis": net("G_synthesis", kwargs, syn)},
        )

    s = {k: v.detach() for k, v in method.D.state_dict().items()}
    dv = {
        f"{R}x{R}/FromRGB/weight": conv(s[f"b{R}.fromrgb.weight"]),
        f"{R}x{R}/FromRGB/bias": s[f"b{R}.fromrgb.bias"].numpy(),
    }
    for r in res[1:]:
        for tf, ours in (("Conv0", "conv0"), ("Conv1_down", "conv1")):
            dv[f"{r}x{r}/{tf}/weight"], dv[f"{r}x{r}/{tf}/bias"] = (
                conv(s[f"b{r}.{ours}.weight"]),
                s[f"b{r}.{ours}.bias"].numpy(),
            )
        dv[f"{r}x{r}/Skip/weight"] = conv(s[f"b{r}.skip.weight"])
    dv["4x4/Conv/weight"], dv["4x4/Conv/bias"] = conv(s["b4.conv.weight"]), s["b4.conv.bias"].numpy()
    for tf, ours in (("4x4/Dense0", "b4.fc"), ("Output", "b4.out")):
        dv[f"{tf}/weight"], dv[f"{tf}/bias"] = s[f"{ours}.weight"].numpy().T.copy(), s[f"{ours}.bias"].numpy()
    D = net(
        "D",
        {
            "num_channels": 3,
            "resolution": R,
            "label_size": 0,
            "fmap_base": o.channel_base // 2,
            "fmap_max": o.channel_max,
            "mbstd_group_size": o.mbstd_group,
        },
        dv,
    )
    return g(method.G, "G"), D, g(method.G_ema, "Gs")


def dump(obj, path, protocol=4):
    with OFFICIAL.registered():
        path.write_bytes(pickle.dumps(obj, protocol=protocol))
    return path


# --- fixtures ---------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def sg2():
    torch.manual_seed(0)
    return _perturbed(build_method("stylegan2", SG2, 16), 1).eval()


@pytest.fixture(scope="module")
def creps():
    torch.manual_seed(0)
    return _perturbed(build_method("creps", CREPS, 16), 2).eval()


def same_outputs(ours, theirs, n: int = 4):
    """Largest |difference| of G_ema, G (fixed z, noise_mode const) and D (on G_ema's images) between two methods."""
    z = torch.randn(n, ours.options.z_dim, generator=torch.Generator().manual_seed(5))
    c = (
        torch.nn.functional.one_hot(torch.arange(n) % ours.label_dim, ours.label_dim).float()
        if ours.label_dim
        else torch.zeros(n, 0)
    )
    diffs = {}
    with torch.no_grad():
        for part in ("G_ema", "G"):
            a = getattr(ours, part)(z, c, noise_mode="const")
            b = getattr(theirs, part)(z, c, noise_mode="const")
            assert a.abs().max() > 1e-3  # not a degenerate network
            diffs[part] = float((a - b).abs().max())
        img = ours.G_ema(z, c, noise_mode="const")
        diffs["D"] = float((ours.D(img, c) - theirs.D(img, c)).abs().max())
    return diffs


# --- round trips ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("nested, protocol", [(True, 3), (False, 4)], ids=["ada-protocol3", "stylegan3-protocol4"])
def test_persistence_pickle_imports_with_the_same_outputs(sg2, tmp_path, nested, protocol, monkeypatch):
    monkeypatch.setenv("GANBENCH_OPS", "ref")
    src = dump(ada_like(sg2, 16, nested=nested), tmp_path / "net.pkl", protocol)
    out = tmp_path / "imported.pt"
    write_imported_checkpoint(src, out, method="stylegan2", resolution=16)
    ckpt = load_checkpoint(out)
    assert ckpt["source"]["format"] == ("stylegan2-ada-pytorch" if nested else "stylegan3")
    assert ckpt["experiment"]["options"] == {k: v for k, v in SG2.items() if k != "augment"} | {"conv_clamp": None}
    restored = restore_method(ckpt, out)
    diffs = same_outputs(sg2, restored)
    assert max(diffs.values()) < 1e-4, diffs
    assert torch.equal(restored.G_ema.mapping.w_avg, sg2.G_ema.mapping.w_avg)


def test_creps_pickle_imports_with_the_same_outputs(creps, tmp_path, monkeypatch):
    monkeypatch.setenv("GANBENCH_OPS", "ref")
    src = dump(creps_like(creps, 16), tmp_path / "creps.pkl")
    ckpt = imported_checkpoint(src, method="creps")
    assert ckpt["method"] == "creps" and ckpt["source"]["format"] == "creps"
    options = ckpt["experiment"]["options"]
    assert (options["rank"], options["channel_base"], options["d_channel_base"]) == (4, 256, 128)
    restored = restore_method(ckpt, src)
    diffs = same_outputs(creps, restored)
    assert max(diffs.values()) < 1e-4, diffs
    # the input's numbers really moved into ganbench's layout (not merely round-tripped through a reshape)
    assert torch.equal(restored.G_ema.synthesis.b4.input.freqs, creps.G_ema.synthesis.b4.input.freqs)
    rows = torch.linspace(0, 1, 24)  # and the imported model renders other grids like the original
    with torch.no_grad():
        z = torch.randn(2, 16, generator=torch.Generator().manual_seed(3))
        a = creps.G_ema(z, torch.zeros(2, 0), rows=rows, cols=rows)
        b = restored.G_ema(z, torch.zeros(2, 0), rows=rows, cols=rows)
    assert float((a - b).abs().max()) < 1e-4


@pytest.mark.parametrize("version", [4, 5])
def test_tf_pickle_imports_with_the_same_outputs(sg2, tmp_path, version, monkeypatch):
    monkeypatch.setenv("GANBENCH_OPS", "ref")
    src = dump(tf_like(sg2, 16, version), tmp_path / "stylegan2-tiny-config-f.pkl")
    ckpt = imported_checkpoint(src, resolution=16)
    assert ckpt["source"]["format"] == ("tf-stylegan2" if version == 4 else "tf-stylegan2-ada")
    restored = restore_method(ckpt, src)
    diffs = same_outputs(sg2, restored)
    assert max(diffs.values()) < 1e-4, diffs


def test_tf_up_conv_flip_is_not_a_no_op(sg2, tmp_path, monkeypatch):
    """Without the spatial flip of Conv0_up the outputs differ: the transform matters and is tested."""
    monkeypatch.setenv("GANBENCH_OPS", "ref")
    G, D, Gs = tf_like(sg2, 16)
    for network in (G, Gs):
        variables = dict(network._state["components"]["synthesis"]._state["variables"])
        for name in [k for k in variables if k.endswith("Conv0_up/weight")]:
            variables[name] = variables[name][::-1, ::-1].copy()
        network._state["components"]["synthesis"]._state["variables"] = list(variables.items())
    restored = restore_method(imported_checkpoint(dump((G, D, Gs), tmp_path / "t.pkl")), tmp_path / "t.pkl")
    assert same_outputs(sg2, restored)["G_ema"] > 1e-3


def test_imported_checkpoint_is_an_experiment_input(sg2, tmp_path, monkeypatch):
    """parent_infos and source_state read it as a parent; init_from copies G_ema; the encoder builds on it."""
    monkeypatch.setenv("GANBENCH_OPS", "ref")
    out = tmp_path / "parent.pt"
    write_imported_checkpoint(dump(ada_like(sg2, 16), tmp_path / "net.pkl"), out)
    from ganbench.fileio import sha256_file

    record = {"parent": InputFile("parent", "checkpoint", str(out), sha256_file(out))}
    info = parent_infos(record)["parent"]
    assert (info.method, info.resolution, info.img_channels, info.label_dim) == ("stylegan2", 16, 3, 0)
    child = build_method("stylegan2", {**info.options, "augment": "none"}, 16)
    lines = init_parts(child, {"G": "parent:G_ema"}, record, "experiments.child")
    assert "kept initialisation" not in lines[0] and "ignored" not in lines[0]
    assert all(torch.equal(v, sg2.G_ema.state_dict()[k]) for k, v in child.G.state_dict().items())
    assert set(source_state(record["parent"])) == set(load_checkpoint(out)["state"])
    encoder = build_method(
        "encoder", {"channels": 8, "channel_max": 16}, 16, parents={"generator": InputInfo(**vars(info))}
    )
    init_parts(
        encoder,
        {"G": "generator:G_ema"},
        {"generator": InputFile("generator", "checkpoint", str(out), record["parent"].sha256)},
        "experiments.enc",
    )


# --- refusals ---------------------------------------------------------------------------------------------------


def _one_line(exc_info, *parts):
    message = str(exc_info.value)
    assert "\n" not in message, message
    for part in parts:
        assert part in message, message
    return message


def test_unexpected_global_is_refused_naming_it(tmp_path):
    class Evil:
        def __reduce__(self):
            import os

            return os.system, ("echo pwned",)

    path = tmp_path / "evil.pkl"
    path.write_bytes(pickle.dumps({"G_ema": Evil()}))
    with pytest.raises(GanbenchError) as exc:
        import_network(path)
    _one_line(exc, str(path), "posix.system" if sys.platform != "win32" else "nt.system")


def test_persistent_source_is_never_executed(sg2, tmp_path, monkeypatch):
    monkeypatch.setenv("GANBENCH_OPS", "ref")
    top = ada_like(sg2, 16)
    top["G_ema"] = Persistent("Generator", top["G_ema"].state, version=5)
    with pytest.raises(GanbenchError) as exc:
        import_network(dump(top, tmp_path / "v5.pkl"))
    _one_line(exc, "format version 5")


def test_truncated_file(sg2, tmp_path):
    path = dump(ada_like(sg2, 16), tmp_path / "net.pkl")
    path.write_bytes(path.read_bytes()[: len(path.read_bytes()) // 2])
    with pytest.raises(GanbenchError) as exc:
        import_network(path)
    _one_line(exc, str(path), "truncated")


def test_discriminator_only(sg2, tmp_path):
    path = dump(ada_like(sg2, 16, drop=("G", "G_ema")), tmp_path / "d.pkl")
    with pytest.raises(GanbenchError) as exc:
        import_network(path)
    _one_line(exc, "no G_ema network", "networks: D")


def test_stylegan3_synthesis_is_refused(sg2, tmp_path):
    top = ada_like(sg2, 16)
    synthesis = Persistent(
        "SynthesisNetwork",
        module_state(
            {},
            {
                "input": Persistent("SynthesisInput", module_state({"freqs": torch.randn(8, 2)}, {})),
                "L0_36_512": Persistent("SynthesisLayer", module_state({"weight": torch.randn(4, 4, 3, 3)}, {})),
            },
        ),
    )
    top["G_ema"].state["_modules"]["synthesis"] = synthesis
    with pytest.raises(GanbenchError) as exc:
        import_network(dump(top, tmp_path / "sg3.pkl"))
    _one_line(exc, "StyleGAN3 synthesis")


def test_resolution_mismatches(sg2, tmp_path, monkeypatch):
    monkeypatch.setenv("GANBENCH_OPS", "ref")
    path = dump(ada_like(sg2, 16, img_resolution=32), tmp_path / "kw.pkl")
    with pytest.raises(GanbenchError) as exc:
        import_network(path)
    _one_line(exc, "_init_kwargs.img_resolution is 32 but the networks give 16")
    path = dump(ada_like(sg2, 16), tmp_path / "ok.pkl")
    with pytest.raises(GanbenchError) as exc:
        imported_checkpoint(path, resolution=32)
    _one_line(exc, "16x16, not --resolution 32")
    G, D, Gs = tf_like(sg2, 16, extra_g_kwargs={"resolution": 64})
    with pytest.raises(GanbenchError) as exc:
        import_network(dump((G, D, Gs), tmp_path / "tf.pkl"))
    _one_line(exc, "static_kwargs.resolution is 64 but the variables reach 16x16")


def test_wrong_method_and_unconverted_tf_variable(sg2, creps, tmp_path):
    with pytest.raises(GanbenchError) as exc:
        imported_checkpoint(dump(creps_like(creps, 16), tmp_path / "c.pkl"), method="stylegan2")
    _one_line(exc, "holds a creps generator, not stylegan2")
    G, D, Gs = tf_like(sg2, 16)
    syn = Gs._state["components"]["synthesis"]._state
    syn["variables"] = syn["variables"] + [("16x16/Skip/weight", np.zeros((1, 1, 32, 32), np.float32))]
    with pytest.raises(GanbenchError) as exc:
        import_network(dump((G, D, Gs), tmp_path / "resnet.pkl"))
    _one_line(exc, "'synthesis/16x16/Skip/weight' has no counterpart")


def test_not_a_network_pickle(tmp_path):
    path = tmp_path / "list.pkl"
    path.write_bytes(pickle.dumps([1, 2, 3]))
    with pytest.raises(GanbenchError) as exc:
        import_network(path)
    _one_line(exc, "not a released network pickle")
    torch.save({"a": torch.zeros(2)}, tmp_path / "zip.pt")
    with pytest.raises(GanbenchError) as exc:
        import_network(tmp_path / "zip.pt")
    _one_line(exc, "zip.pt: a torch.save archive")
    path.write_bytes(b"P0\n.")  # a pickle with a persistent id
    with pytest.raises(GanbenchError) as exc:
        import_network(path)
    _one_line(exc, "a persistent id")


def test_cli_writes_a_checkpoint_the_other_commands_accept(sg2, tmp_path, capsys, monkeypatch):
    from ganbench.cli import checkpoint_method, main
    from ganbench.fileio import sha256_file

    monkeypatch.setenv("GANBENCH_OPS", "ref")
    top = ada_like(sg2, 16)
    top["G_ema"].state["_modules"]["synthesis"].state["_modules"]["b16"].state["use_fp16"] = True
    src = dump(top, tmp_path / "net.pkl")
    with pytest.warns(UserWarning, match=r"G_ema: 1 fp16 block\(s\)"):  # printed as a note by the command
        assert main(["import-checkpoint", str(src), str(tmp_path / "o.pt"), "--method", "stylegan2"]) == 0
    assert "stylegan2 at 16px from stylegan2-ada-pytorch" in capsys.readouterr().out
    ckpt = checkpoint_method(tmp_path / "o.pt")  # what eval, consistency and the figures check first
    assert ckpt["source"] == {
        "path": str(src.resolve()),
        "sha256": sha256_file(src),
        "format": "stylegan2-ada-pytorch",
        "notes": ["G_ema: 1 fp16 block(s) in the source (ganbench's options run them in fp32)"],
    }
    assert (ckpt["format"], ckpt["nimg"], ckpt["step"], ckpt["optimizers"], ckpt["frozen_inputs"]) == (1, 0, 0, {}, {})
    assert ckpt["experiment"]["name"] == "imported-net" and ckpt["experiment"]["dataset"] == "imported"
    assert sorted(ckpt) == sorted(
        [
            "format",
            "method",
            "experiment",
            "resolution",
            "img_channels",
            "label_dim",
            "state",
            "optimizers",
            "nimg",
            "step",
            "rng",
            "torch_version",
            "inputs",
            "input_sha256",
            "frozen_inputs",
            "parents",
            "source",
        ]
    )


# --- config/weights.yaml ------------------------------------------------------------------------------------------


def test_weights_registry_lists_the_released_networks():
    from ganbench.metrics.weights import load_weights_registry
    from ganbench.nets.importers import METHODS

    networks = load_weights_registry(kind="network")
    assert {
        "stylegan2-car-config-f",
        "stylegan2-horse-config-f",
        "lsuncat200k-paper256-ada",
        "celeba0-28k-paper256-ada",
        "celeba28k-paper512-ada",
        "creps-ffhq-512x512",
        "vision-aided-gan-lsuncat-ada-3",
    } <= set(networks)
    assert "inception-v3-compat" in load_weights_registry(kind="extractor")
    for name, entry in networks.items():
        assert entry["url"] or entry["manual"], name
        assert entry["sha256"] is None or re.fullmatch(r"[0-9a-f]{64}", entry["sha256"]), name
        assert entry.get("method") in (*METHODS, None) and entry["tables"], name
        assert entry.get("method") or entry["format"] == "avg-latent-npy", name
        assert entry.get("avg_latent") is None or networks[entry["avg_latent"]]["format"] == "avg-latent-npy", name


def test_download_of_a_network_entry(tmp_path):
    from ganbench.errors import DownloadError
    from ganbench.metrics.weights import download_weights

    (tmp_path / "net.pkl").write_bytes(b"released bytes")
    import hashlib

    digest = hashlib.sha256(b"released bytes").hexdigest()
    registry = tmp_path / "weights.yaml"
    registry.write_text(
        f"direct: {{kind: network, url: 'file://{tmp_path}/net.pkl', sha256: {digest}}}\n"
        "drive: {kind: network, url: null, sha256: null, manual: 'the authors Drive folder X'}\n"
    )
    assert download_weights("direct", tmp_path / "out" / "direct.pkl", registry).read_bytes() == b"released bytes"
    with pytest.raises(DownloadError) as exc:
        download_weights("drive", tmp_path / "out" / "drive.pkl", registry)
    _one_line(exc, "drive: no direct download", "the authors Drive folder X")
    (tmp_path / "out" / "drive.pkl").write_bytes(b"placed by hand")
    assert download_weights("drive", tmp_path / "out" / "drive.pkl", registry).read_bytes() == b"placed by hand"


# --- the TF layouts against TF's own semantics ----------------------------------------------------------------
# The round trips above prove the importer inverts the test's export; these check the transforms themselves against
# a re-derivation of what the TF StyleGAN2 ops compute (dnnlib/tflib/ops/upfirdn_2d.py, as research/checkpoints.md
# §2 describes them): conv2d_transpose on the spatially flipped kernel followed by a [1,3,3,1] blur for upsampling,
# blur then strided correlation for downsampling. Written here with torch's primitives (TF's conv2d and
# conv2d_transpose are torch's conv2d and conv_transpose2d with HWIO/HWOI filters).


def _tf_blur(x, pad0, pad1, gain=1.0):
    k = FILTER * gain
    C = x.shape[1]
    x = torch.nn.functional.pad(x, [pad0, pad1, pad0, pad1])
    return torch.nn.functional.conv2d(x, k.flip([0, 1]).expand(C, 1, 4, 4).contiguous(), groups=C)


def _tf_upsample_conv(x, w_hwio):
    """TF upsample_conv_2d(x, w, k=[1,3,3,1], factor 2), NCHW, one group."""
    w = torch.as_tensor(np.ascontiguousarray(w_hwio[::-1, ::-1].transpose(0, 1, 3, 2)))  # [kh, kw, O, I]
    y = torch.nn.functional.conv_transpose2d(x, w.permute(3, 2, 0, 1), stride=2)  # TF filter [h, w, out, in]
    p = (4 - 2) - (w_hwio.shape[0] - 1)
    return _tf_blur(y, (p + 1) // 2 + 1, p // 2 + 1, gain=4.0)


def _tf_conv_downsample(x, w_hwio):
    """TF conv_downsample_2d(x, w, k=[1,3,3,1], factor 2), NCHW: blur, then a stride-2 VALID correlation."""
    p = (4 - 2) + (w_hwio.shape[0] - 1)
    y = _tf_blur(x, (p + 1) // 2, p // 2)
    return torch.nn.functional.conv2d(y, torch.as_tensor(np.ascontiguousarray(w_hwio.transpose(3, 2, 0, 1))), stride=2)


@pytest.mark.parametrize("kernel", [3, 1])
def test_tf_resampling_convs_match_after_the_documented_transforms(kernel, monkeypatch):
    from ganbench import ops
    from ganbench.nets.importers.tf_stylegan2 import _conv, _Vars

    monkeypatch.setenv("GANBENCH_OPS", "ref")
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(2, 5, 8, 8, generator=gen)
    w_tf = torch.randn(kernel, kernel, 5, 6, generator=gen).numpy()  # [kh, kw, I, O] as TF stores it
    f = ops.setup_filter([1, 3, 3, 1])
    v = _Vars({"up/weight": w_tf, "down/weight": w_tf}, "t")
    if kernel == 3:  # Conv0_up: flipped, then transposed
        ours = ops.conv2d_resample(x, _conv(v, "up", flip=True), f=f, up=2, padding=1, flip_weight=False)
        assert float((ours - _tf_upsample_conv(x, w_tf)).abs().max()) < 1e-4
        wrong = ops.conv2d_resample(x, _conv(v, "down"), f=f, up=2, padding=1, flip_weight=False)
        assert float((wrong - _tf_upsample_conv(x, w_tf)).abs().max()) > 1e-2  # the flip is needed
    # Conv1_down (3x3) and Skip (1x1): transposed only
    ours = ops.conv2d_resample(x, _conv(v, "down"), f=f, down=2, padding=kernel // 2)
    assert float((ours - _tf_conv_downsample(x, w_tf)).abs().max()) < 1e-4


def test_vision_aided_extras_and_frozen_d_layers(sg2, tmp_path, monkeypatch):
    """A Vision-aided pickle carries cvD (plain torch modules of foreign classes): stubbed and dropped. A D trained
    with freeze_layers keeps the frozen layers' weights in _buffers: they become parameters again."""
    monkeypatch.setenv("GANBENCH_OPS", "ref")
    top = ada_like(sg2, 16)
    conv0 = top["D"].state["_modules"]["b16"].state["_modules"]["conv0"]
    conv0.state["_buffers"].update(conv0.state["_parameters"])
    conv0.state["_parameters"] = OrderedDict()
    vision = types.ModuleType("vision_module.cv_discriminator")
    vision.Discriminator = type("Discriminator", (), {"__module__": "vision_module.cv_discriminator"})
    cvD = vision.Discriminator()
    cvD.backbone = torch.nn.Sequential(torch.nn.Linear(3, 2), torch.nn.GELU())
    top["cvD"], top["augment_pipe_cv"] = cvD, None
    saved = {k: sys.modules.get(k) for k in ("vision_module", "vision_module.cv_discriminator")}
    sys.modules.update({"vision_module": types.ModuleType("vision_module"), "vision_module.cv_discriminator": vision})
    try:
        src = dump(top, tmp_path / "vision-aided.pkl")
    finally:
        for k, v in saved.items():
            sys.modules.pop(k) if v is None else sys.modules.__setitem__(k, v)
    ckpt = imported_checkpoint(src)
    diffs = same_outputs(sg2, restore_method(ckpt, src))
    assert max(diffs.values()) < 1e-4, diffs


def test_training_on_an_imported_checkpoint(sg2, tmp_path, monkeypatch):
    """The loop takes an imported file as an input: an encoder on its frozen G_ema, a fine-tune starting from it."""
    from ganbench.config import validate_config
    from ganbench.data.build import make_synthetic_dataset
    from ganbench.train.loop import training_loop

    monkeypatch.setenv("GANBENCH_OPS", "ref")
    make_synthetic_dataset(
        "face", 16, 8, 0, 0.25, tmp_path / "faces" / "images.zip", tmp_path / "faces" / "annotations.h5"
    )
    imported = tmp_path / "imported.pt"
    write_imported_checkpoint(dump(ada_like(sg2, 16), tmp_path / "net.pkl"), imported)
    common = {
        "resolution": 16,
        "batch": 4,
        "kimg": 0.004,
        "snapshot_kimg": 1,
        "tick_kimg": 0.004,
        "workers": 0,
        "dataset": "faces",
    }
    config = validate_config(
        {
            "datasets": {"faces": {"source": "synthetic", "category": "face", "count": 8}},
            "experiments": [
                {
                    **common,
                    "name": "enc",
                    "method": "encoder",
                    "options": {"channels": 8, "channel_max": 16, "preview_images": 4},
                    "inputs": {"generator": {"checkpoint": str(imported)}},
                },
                {
                    **common,
                    "name": "tune",
                    "method": "stylegan2",
                    "options": {**SG2, "pl_weight": 0},
                    "inputs": {"parent": {"checkpoint": str(imported)}},
                    "init_from": {"G": "parent", "G_ema": "parent", "D": "parent"},
                },
            ],
        }
    )
    enc, tune = config["experiments"]
    final = training_loop(
        enc, tmp_path / "faces" / "images.zip", tmp_path / "enc", device="cpu", inputs={"generator": str(imported)}
    )
    method = restore_method(load_checkpoint(final), final)  # G read back from the imported file, by sha256
    for key, value in method.G.state_dict().items():
        assert torch.equal(value, sg2.G_ema.state_dict()[key]), key
    final = training_loop(
        tune, tmp_path / "faces" / "images.zip", tmp_path / "tune", device="cpu", inputs={"parent": str(imported)}
    )
    tuned = restore_method(load_checkpoint(final), final)
    moved = max(float((v - sg2.G.state_dict()[k]).abs().max()) for k, v in tuned.G.state_dict().items())
    assert 0 < moved < 0.1  # one step away from the imported weights, not from a fresh initialisation


def test_numpy1_names_in_tf_pickles(sg2, tmp_path, monkeypatch):
    """TF-era pickles were written by numpy 1, whose arrays name numpy.core.multiarray (numpy 2 writes _core)."""
    monkeypatch.setenv("GANBENCH_OPS", "ref")
    path = dump(tf_like(sg2, 16), tmp_path / "np1.pkl", protocol=3)
    data = path.read_bytes()
    assert b"cnumpy._core.multiarray\n" in data
    path.write_bytes(data.replace(b"cnumpy._core.multiarray\n", b"cnumpy.core.multiarray\n"))
    diffs = same_outputs(sg2, restore_method(imported_checkpoint(path), path))
    assert max(diffs.values()) < 1e-4, diffs


def test_conditional_persistence_pickle(tmp_path, monkeypatch):
    """Labels: G's mapping.embed, D's projection mapping (8 layers, mapping.fcN in the file)."""
    monkeypatch.setenv("GANBENCH_OPS", "ref")
    torch.manual_seed(0)
    method = _perturbed(build_method("stylegan2", SG2, 16, label_dim=3), 4).eval()
    path = dump(ada_like(method, 16), tmp_path / "cond.pkl")
    ckpt = imported_checkpoint(path)
    assert ckpt["label_dim"] == 3 and "D.mapping.fcs.7.weight" in ckpt["state"]
    diffs = same_outputs(method, restore_method(ckpt, path))
    assert max(diffs.values()) < 1e-4, diffs
