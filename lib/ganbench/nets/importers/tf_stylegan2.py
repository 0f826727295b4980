"""TensorFlow StyleGAN2 (config F) and StyleGAN2-ADA-TF pickles -> ganbench's StyleGAN2 networks.

The file is ``pickle.dump((G, D, Gs))`` of ``dnnlib.tflib.network.Network`` objects (``research/checkpoints.md``
§2); their state holds the constructor kwargs (``static_kwargs``), sub-networks (``components``: G's
``mapping`` and ``synthesis``) and the variables as (name, numpy array) pairs. TF stores unit-scale variables
and applies the equalized-lr gains at run time, as ganbench does, so values are copied; layouts change:

| TF | ganbench | transform |
|---|---|---|
| ``dlatent_avg`` | ``mapping.w_avg`` | copy |
| ``mapping/Dense{i}/{weight [in, out], bias}`` | ``mapping.fcs.{i}`` | transpose |
| ``synthesis/4x4/Const/const`` [1, C, 4, 4] | ``synthesis.b4.const`` | drop axis 0 |
| ``.../Conv``, ``Conv1``, ``Conv0_up`` ``weight`` [kh, kw, I, O] | ``conv1``/``conv0`` ``weight`` [O, I, kh, kw] | transpose; ``Conv0_up`` flipped in space first |
| ``mod_weight`` [w_dim, I], ``mod_bias`` | ``affine.weight``, ``affine.bias`` | transpose; bias + 1 |
| ``.../ToRGB`` [1, 1, I, C] | ``torgb`` [C, I, 1, 1] | transpose; ``mod_bias`` + 1 |
| ``synthesis/noise{k}`` [1, 1, r, r] | ``noise_const`` [r, r] of layer k | take [0, 0] |
| D ``{R}x{R}/FromRGB``, ``{r}x{r}/{Conv0, Conv1_down, Skip}`` | ``b{R}.fromrgb``, ``b{r}.{conv0, conv1, skip}`` | transpose (no flips in D) |
| D ``4x4/Conv``, ``4x4/Dense0`` [16 C, C], ``Output`` [C, 1] | ``b4.conv``, ``b4.fc``, ``b4.out`` | transpose |

Every variable must be consumed (``lod`` excepted): a resnet generator (``Skip`` in G), progressive-growing
outputs (``ToRGB_lod*``) or label layers are refused rather than dropped.
"""

from __future__ import annotations

import re

import numpy as np
import torch

from ganbench.errors import GanbenchError
from ganbench.nets.importers.common import ImportedNetworks, channel_params, require
from ganbench.nets.importers.unpickler import NetworkStub

KNOWN_VERSIONS = (4, 5)  # 4: NVlabs/stylegan2; 5: NVlabs/stylegan2-ada (adds input/output shapes and names)
# static_kwargs that change nothing in the networks' forward pass (sampling defaults, training-graph switches)
IGNORED_KWARGS = {
    "truncation_psi",
    "truncation_cutoff",
    "truncation_psi_val",
    "truncation_cutoff_val",
    "style_mixing_prob",
    "dlatent_avg_beta",
    "randomize_noise",
    "fused_modconv",
    "dtype",
    "structure",
    "is_training",
    "is_validation",
    "is_template_graph",
    "return_dlatents",
    "components",
    "mapping_func",
    "synthesis_func",
    "num_fp16_res",
    "conv_clamp",
    "func_name",
}
G_KWARGS = {
    "latent_size": 512,
    "label_size": 0,
    "dlatent_size": 512,
    "resolution": 1024,
    "num_channels": 3,
    "fmap_base": 16 << 10,
    "fmap_decay": 1.0,
    "fmap_min": 1,
    "fmap_max": 512,
    "mapping_layers": 8,
    "mapping_fmaps": 512,
    "mapping_lrmul": 0.01,
    "mapping_nonlinearity": "lrelu",
    "nonlinearity": "lrelu",
    "architecture": "skip",
    "resample_kernel": [1, 3, 3, 1],
    "use_noise": True,
    "normalize_latents": True,
    "label_fmaps": None,
}
D_KWARGS = {
    "label_size": 0,
    "resolution": 1024,
    "num_channels": 3,
    "fmap_base": 16 << 10,
    "fmap_decay": 1.0,
    "fmap_min": 1,
    "fmap_max": 512,
    "architecture": "resnet",
    "nonlinearity": "lrelu",
    "mbstd_group_size": 4,
    "mbstd_num_features": 1,
    "resample_kernel": [1, 3, 3, 1],
    "mapping_layers": 0,
    "mapping_fmaps": None,
    "mapping_lrmul": 0.1,
    "freeze_layers": 0,
}


def is_tf_pickle(obj) -> bool:
    return isinstance(obj, tuple) and len(obj) == 3 and all(isinstance(n, NetworkStub) for n in obj)


def _variables(net: NetworkStub, where: str, prefix: str = "") -> dict[str, np.ndarray]:
    state = net.state
    version = state.get("version")
    require(
        version in KNOWN_VERSIONS,
        where,
        f"network {state.get('name')!r} has format version {version!r} (known: {', '.join(map(str, KNOWN_VERSIONS))})",
    )
    out = {}
    for pair in state.get("variables") or []:
        name, value = pair
        require(isinstance(value, (np.ndarray, np.generic)), where, f"variable {prefix}{name} is not a numpy array")
        out[prefix + name] = np.asarray(value)  # a scalar variable runs to a numpy scalar
    for comp_name, comp in (state.get("components") or {}).items():
        require(isinstance(comp, NetworkStub), where, f"component {comp_name!r} is not a Network")
        out.update(_variables(comp, where, f"{prefix}{comp_name}/"))
    return out


def _kwargs(net: NetworkStub, known: dict, where: str) -> dict:
    given = dict(net.state.get("static_kwargs") or {})
    for key in given:
        require(
            key in known or key in IGNORED_KWARGS,
            where,
            f"{net.state.get('name')}.static_kwargs.{key}: not a setting ganbench knows how to convert",
        )
    return {**known, **{k: v for k, v in given.items() if k in known}}


class _Vars:
    """The variables of one network, each taken at most once; leftovers are reported."""

    def __init__(self, variables: dict, where: str):
        self.vars, self.used, self.where = variables, set(), where

    def __contains__(self, name):
        return name in self.vars

    def take(self, name: str) -> np.ndarray:
        if name not in self.vars:
            raise GanbenchError(f"{self.where}: has no variable {name!r}")
        self.used.add(name)
        return np.asarray(self.vars[name], dtype=np.float32)

    def check_all_used(self) -> None:
        left = sorted(k for k in self.vars if k not in self.used and k.rsplit("/", 1)[-1] != "lod")
        if left:
            raise GanbenchError(
                f"{self.where}: variable {left[0]!r} has no counterpart in ganbench's networks "
                f"({len(left)} unconverted)"
            )


def _t(a: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.array(a, dtype=np.float32, order="C"))  # a copy; keeps 0-d arrays 0-d


def _conv(v: _Vars, tf: str, flip: bool = False) -> torch.Tensor:
    w = v.take(f"{tf}/weight")  # [kh, kw, I, O]
    require(w.ndim == 4, v.where, f"{tf}/weight has shape {list(w.shape)}, not [kh, kw, I, O]")
    if flip:
        w = w[::-1, ::-1]
    return _t(w.transpose(3, 2, 0, 1))


def _modulated(v: _Vars, tf: str, ours: str, out: dict, flip: bool = False, noise: str | None = None) -> None:
    out[f"{ours}.weight"] = _conv(v, tf, flip)
    out[f"{ours}.bias"] = _t(v.take(f"{tf}/bias"))
    out[f"{ours}.affine.weight"] = _t(v.take(f"{tf}/mod_weight").T)
    out[f"{ours}.affine.bias"] = _t(v.take(f"{tf}/mod_bias") + 1)
    if noise is not None:
        out[f"{ours}.noise_strength"] = _t(v.take(f"{tf}/noise_strength"))
        out[f"{ours}.noise_const"] = _t(v.take(noise)[0, 0])


def _generator(net: NetworkStub, where: str) -> tuple[dict, dict]:
    require(
        set(net.state.get("components") or {}) >= {"mapping", "synthesis"},
        where,
        "has no mapping and synthesis components (not a StyleGAN2 generator)",
    )
    kw = _kwargs(net, G_KWARGS, where)
    require(kw["architecture"] == "skip", where, f"architecture {kw['architecture']!r}; ganbench's generator is 'skip'")
    for key in ("nonlinearity", "mapping_nonlinearity"):
        require(kw[key] == "lrelu", where, f"{key} {kw[key]!r}; ganbench uses lrelu")
    require(list(kw["resample_kernel"]) == [1, 3, 3, 1], where, f"resample_kernel {kw['resample_kernel']}")
    require(
        kw["use_noise"] and kw["normalize_latents"] and kw["fmap_decay"] == 1.0,
        where,
        "use_noise, normalize_latents and fmap_decay 1 are what ganbench's generator implements",
    )
    require(abs(kw["mapping_lrmul"] - 0.01) < 1e-9, where, f"mapping_lrmul {kw['mapping_lrmul']}, not 0.01")
    require(kw["label_size"] == 0, where, f"label_size {kw['label_size']}: conditional TF generators are not converted")
    v = _Vars(_variables(net, where), where)
    res = sorted({int(m.group(1)) for k in v.vars if (m := re.match(r"synthesis/(\d+)x\1/", k))})
    require(res, where, "has no synthesis/{r}x{r} variables")
    R = res[-1]
    require(
        kw["resolution"] == R, where, f"static_kwargs.resolution is {kw['resolution']} but the variables reach {R}x{R}"
    )
    out: dict[str, torch.Tensor] = {"mapping.w_avg": _t(v.take("dlatent_avg"))}
    layers = sorted(int(k.split("/")[1][5:]) for k in v.vars if k.startswith("mapping/Dense") and k.endswith("/weight"))
    require(layers == list(range(len(layers))) and layers, where, "has no mapping/Dense0 ... DenseN")
    for i in layers:
        out[f"mapping.fcs.{i}.weight"] = _t(v.take(f"mapping/Dense{i}/weight").T)
        out[f"mapping.fcs.{i}.bias"] = _t(v.take(f"mapping/Dense{i}/bias"))
    z_dim, w_dim = out["mapping.fcs.0.weight"].shape[1], out[f"mapping.fcs.{layers[-1]}.weight"].shape[0]
    require(
        z_dim == kw["latent_size"] and w_dim == kw["dlatent_size"],
        where,
        f"latent sizes {kw['latent_size']}/{kw['dlatent_size']} in static_kwargs, {z_dim}/{w_dim} in the variables",
    )
    require(
        len(layers) == kw["mapping_layers"],
        where,
        f"static_kwargs.mapping_layers is {kw['mapping_layers']} but there are {len(layers)} Dense layers",
    )
    out["synthesis.b4.const"] = _t(v.take("synthesis/4x4/Const/const")[0])
    _modulated(v, "synthesis/4x4/Conv", "synthesis.b4.conv1", out, noise="synthesis/noise0")
    resolutions = [2**i for i in range(2, int(np.log2(R)) + 1)]
    for r in resolutions[1:]:
        k = 2 * int(np.log2(r))
        _modulated(
            v, f"synthesis/{r}x{r}/Conv0_up", f"synthesis.b{r}.conv0", out, flip=True, noise=f"synthesis/noise{k - 5}"
        )
        _modulated(v, f"synthesis/{r}x{r}/Conv1", f"synthesis.b{r}.conv1", out, noise=f"synthesis/noise{k - 4}")
    for r in resolutions:
        _modulated(v, f"synthesis/{r}x{r}/ToRGB", f"synthesis.b{r}.torgb", out)
    v.check_all_used()
    channels = {r: out[f"synthesis.b{r}.conv1.weight"].shape[0] for r in resolutions}
    base, cmax = channel_params(channels, (2 * kw["fmap_base"], kw["fmap_max"]), where)
    img_channels = out[f"synthesis.b{R}.torgb.weight"].shape[0]
    require(
        img_channels == kw["num_channels"], where, f"num_channels {kw['num_channels']} but ToRGB makes {img_channels}"
    )
    conv_clamp = (net.state.get("static_kwargs") or {}).get("conv_clamp")
    return out, {
        "resolution": R,
        "img_channels": img_channels,
        "z_dim": z_dim,
        "w_dim": w_dim,
        "mapping_layers": len(layers),
        "channel_base": base,
        "channel_max": cmax,
        "conv_clamp": None if conv_clamp is None else float(conv_clamp),
    }


def _discriminator(net: NetworkStub, where: str) -> tuple[dict, dict]:
    kw = _kwargs(net, D_KWARGS, where)
    require(kw["architecture"] == "resnet", where, f"architecture {kw['architecture']!r}; ganbench's D is 'resnet'")
    require(
        kw["nonlinearity"] == "lrelu" and list(kw["resample_kernel"]) == [1, 3, 3, 1] and kw["fmap_decay"] == 1.0,
        where,
        "only lrelu, the [1, 3, 3, 1] filter and fmap_decay 1 are converted",
    )
    require(
        kw["label_size"] == 0, where, f"label_size {kw['label_size']}: conditional TF discriminators are not converted"
    )
    require(kw["mbstd_num_features"] == 1, where, f"mbstd_num_features {kw['mbstd_num_features']}; ganbench uses 1")
    require(
        kw["mbstd_group_size"] is not None, where, "mbstd_group_size None (whole batch); ganbench needs a group size"
    )
    v = _Vars(_variables(net, where), where)
    rgb = [k for k in v.vars if k.endswith("/FromRGB/weight")]
    require(len(rgb) == 1, where, f"{len(rgb)} FromRGB layers (a resnet D has one)")
    R = int(rgb[0].split("x")[0])
    require(kw["resolution"] == R, where, f"static_kwargs.resolution is {kw['resolution']} but FromRGB is at {R}x{R}")
    out = {
        f"b{R}.fromrgb.weight": _conv(v, f"{R}x{R}/FromRGB"),
        f"b{R}.fromrgb.bias": _t(v.take(f"{R}x{R}/FromRGB/bias")),
    }
    resolutions = [2**i for i in range(int(np.log2(R)), 2, -1)]
    for r in resolutions:
        for tf, ours in (("Conv0", "conv0"), ("Conv1_down", "conv1")):
            out[f"b{r}.{ours}.weight"] = _conv(v, f"{r}x{r}/{tf}")
            out[f"b{r}.{ours}.bias"] = _t(v.take(f"{r}x{r}/{tf}/bias"))
        out[f"b{r}.skip.weight"] = _conv(v, f"{r}x{r}/Skip")
    out["b4.conv.weight"], out["b4.conv.bias"] = _conv(v, "4x4/Conv"), _t(v.take("4x4/Conv/bias"))
    out["b4.fc.weight"], out["b4.fc.bias"] = _t(v.take("4x4/Dense0/weight").T), _t(v.take("4x4/Dense0/bias"))
    out["b4.out.weight"], out["b4.out.bias"] = _t(v.take("Output/weight").T), _t(v.take("Output/bias"))
    v.check_all_used()
    channels = {r: out[f"b{r}.conv0.weight"].shape[0] for r in resolutions}
    channels[4] = out["b4.conv.weight"].shape[0]
    base, cmax = channel_params(channels, (2 * kw["fmap_base"], kw["fmap_max"]), where)
    conv_clamp = (net.state.get("static_kwargs") or {}).get("conv_clamp")
    return out, {
        "resolution": R,
        "img_channels": out[f"b{R}.fromrgb.weight"].shape[1],
        "channel_base": base,
        "channel_max": cmax,
        "mbstd_group": int(kw["mbstd_group_size"]),
        "conv_clamp": None if conv_clamp is None else float(conv_clamp),
    }


def convert_tf(networks: tuple, where: str) -> ImportedNetworks:
    """(G, D, Gs) of a TF pickle in ganbench's names (see the module doc)."""
    G, D, Gs = networks
    g_ema, arch = _generator(Gs, f"{where}: Gs")
    g, arch_g = _generator(G, f"{where}: G")
    require(arch_g == arch, where, "G and Gs have different architectures")
    d, d_arch = _discriminator(D, f"{where}: D")
    for key in ("resolution", "img_channels", "channel_base", "channel_max", "conv_clamp"):
        require(
            arch[key] == d_arch[key],
            where,
            f"Gs has {key} {arch[key]} but D {d_arch[key]}; ganbench's StyleGAN2 shares it between G and D",
        )
    version = Gs.state.get("version")
    options = {k: arch[k] for k in ("z_dim", "w_dim", "mapping_layers", "channel_base", "channel_max", "conv_clamp")}
    options["mbstd_group"] = d_arch["mbstd_group"]
    notes = []
    if (Gs.state.get("static_kwargs") or {}).get("num_fp16_res"):
        notes.append(f"num_fp16_res {Gs.state['static_kwargs']['num_fp16_res']} in the source (fp32 here)")
    return ImportedNetworks(
        "stylegan2",
        "tf-stylegan2" if version == 4 else "tf-stylegan2-ada",
        options,
        arch["resolution"],
        arch["img_channels"],
        0,
        G=g,
        G_ema=g_ema,
        D=d,
        notes=notes,
    )
