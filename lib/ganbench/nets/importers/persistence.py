"""StyleGAN2-ADA-PyTorch, StyleGAN3 (its ``networks_stylegan2``) and CREPS pickles -> ganbench networks.

The pickle is a dict with persistent ``G``, ``D``, ``G_ema`` (``research/checkpoints.md`` §1). The architecture
is read from the stubs themselves: block and layer names, tensor shapes and the plain attributes each module
keeps (``architecture``, ``activation``, ``conv_clamp``, ``use_fp16``, ``bias_gain``, mbstd ``group_size``), and
cross-checked against the constructor kwargs (``_init_kwargs``; missing keys take that repository's class
defaults, §1.2). Names differ only in the mapping network (official ``mapping.fcN`` is ``mapping.fcs.N``);
``resample_filter`` buffers are derived here, so they are checked against ours and dropped. CREPS' bi-line input
stores ``weight`` [1, C, 1, 2 rank] and ``freqs`` [1, C/2 rank], the same numbers as ganbench's [C, 2, rank] and
[C/2, rank] (line-major); its ``coords`` buffer is the sampling grid, an argument here.
"""

from __future__ import annotations

import re

import numpy as np

from ganbench.errors import GanbenchError
from ganbench.nets.importers.common import (
    ImportedNetworks,
    attr,
    block_resolutions,
    channel_params,
    children,
    flatten,
    require,
    shape_of,
    submodule,
)
from ganbench.nets.importers.unpickler import PersistentStub, PlainModuleStub
from ganbench.nets.layers import RESAMPLE_FILTER

# Class defaults per repository where the kwargs leave a value out (research/checkpoints.md §1.2).
REPO_DEFAULTS = {
    "stylegan2-ada-pytorch": {
        "channel_base": 32768,
        "channel_max": 512,
        "num_fp16_res": 0,
        "conv_clamp": None,
        "w_avg_beta": 0.995,
    },
    "stylegan3": {"channel_base": 32768, "channel_max": 512, "num_fp16_res": 4, "conv_clamp": 256, "w_avg_beta": 0.998},
    "creps": {"channel_base": 65536, "channel_max": 1024, "num_fp16_res": 0, "conv_clamp": 256, "w_avg_beta": 0.998},
}
OUR_W_AVG_BETA = {"stylegan2": 0.995, "creps": 0.998}


def is_persistence_pickle(obj) -> bool:
    return isinstance(obj, dict) and any(isinstance(v, PersistentStub) for v in obj.values())


def classify_generator(G, where: str) -> str:
    """``stylegan2`` or ``creps`` from the module names; a StyleGAN3 or unknown synthesis is refused."""
    require(isinstance(G, (PersistentStub, PlainModuleStub)), where, f"G_ema is a {type(G).__name__}, not a network")
    require(G.class_name == "Generator", where, f"G_ema is a {G.class_name}, not a Generator")
    mods = children(G)
    require("mapping" in mods and "synthesis" in mods, where, "the generator has no mapping and synthesis networks")
    names = set(children(mods["synthesis"]))
    if "decoder_last" in names and "block0" in names:
        return "creps"
    if "b4" in names and "const" in (children(mods["synthesis"])["b4"].state.get("_parameters") or {}):
        return "stylegan2"
    if "input" in names or any(re.match(r"L\d+_\d+_\d+$", n) for n in names):
        raise GanbenchError(
            f"{where}: the generator is a StyleGAN3 synthesis network (layers "
            f"{', '.join(sorted(names)[:3])}, ...); ganbench has no StyleGAN3 generator"
        )
    raise GanbenchError(f"{where}: unknown synthesis network (modules {', '.join(sorted(names)[:4]) or 'none'})")


def convert_persistence(top: dict, where: str) -> ImportedNetworks:
    """G, G_ema and D of an official persistence pickle in ganbench's names (see the module doc)."""
    missing = [k for k in ("G_ema", "D") if not isinstance(top.get(k), PersistentStub)]
    if missing:
        present = ", ".join(sorted(k for k, v in top.items() if isinstance(v, PersistentStub))) or "none"
        raise GanbenchError(
            f"{where}: no {missing[0]} network in the pickle (networks: {present}); an import needs G_ema and D"
        )
    method = classify_generator(top["G_ema"], where)
    G_ema = top["G_ema"]
    kwargs = dict(G_ema.state.get("_init_kwargs") or {})
    repo = "creps" if method == "creps" else ("stylegan2-ada-pytorch" if "synthesis_kwargs" in kwargs else "stylegan3")
    generator = _creps_generator if method == "creps" else _stylegan2_generator
    g_ema, g_arch = generator(G_ema, repo, f"{where}: G_ema")
    if isinstance(top.get("G"), PersistentStub):
        g, g_arch_train = generator(top["G"], repo, f"{where}: G")
        same = lambda a: {k: v for k, v in a.items() if k != "notes"}
        require(same(g_arch_train) == same(g_arch), where, "G and G_ema have different architectures")
        notes = []
    else:
        g, notes = {k: v.clone() for k, v in g_ema.items()}, ["no training G in the pickle: G is a copy of G_ema"]
    d, d_arch = _discriminator(top["D"], repo, f"{where}: D")
    notes += g_arch.pop("notes") + d_arch.pop("notes")
    for key in ("resolution", "img_channels", "label_dim"):
        require(g_arch[key] == d_arch[key], where, f"G_ema has {key} {g_arch[key]} but D {d_arch[key]}")
    options = {k: g_arch[k] for k in ("z_dim", "w_dim", "mapping_layers")}
    if method == "creps":
        options.update(
            channel_base=g_arch["channel_base"],
            channel_max=g_arch["channel_max"],
            d_channel_base=d_arch["channel_base"],
            d_channel_max=d_arch["channel_max"],
            conv_clamp=d_arch["conv_clamp"],
            mbstd_group=d_arch["mbstd_group"],
            rank=g_arch["rank"],
        )
    else:
        for key in ("channel_base", "channel_max", "conv_clamp"):
            require(
                g_arch[key] == d_arch[key],
                where,
                f"G_ema has {key} {g_arch[key]} but D {d_arch[key]}; ganbench's StyleGAN2 shares it between G and D",
            )
        options.update(
            channel_base=g_arch["channel_base"],
            channel_max=g_arch["channel_max"],
            conv_clamp=g_arch["conv_clamp"],
            mbstd_group=d_arch["mbstd_group"],
        )
    return ImportedNetworks(
        method,
        repo,
        options,
        g_arch["resolution"],
        g_arch["img_channels"],
        g_arch["label_dim"],
        G=g,
        G_ema=g_ema,
        D=d,
        notes=notes,
    )


# --- generators ---------------------------------------------------------------------------------------------


def _kwarg(kwargs: dict, key: str, repo: str, nested: str | None = None):
    """A constructor argument: flat, or under ``nested`` (ADA's ``synthesis_kwargs``), else the repo default."""
    if key in kwargs:
        return kwargs[key]
    if nested and key in (kwargs.get(nested) or {}):
        return kwargs[nested][key]
    return REPO_DEFAULTS[repo].get(key)


def _mapping(G, state: dict, where: str, repo: str, method: str) -> dict:
    """z_dim, w_dim, c_dim, layers of a mapping network (G's) from its tensors, checked against the kwargs."""
    mapping = submodule(G, "mapping", where)
    fcs = sorted(int(k[2:]) for k in children(mapping) if re.fullmatch(r"fc\d+", k))
    require(fcs and fcs == list(range(len(fcs))), where, "the mapping network has no layers fc0 ... fcN")
    c_dim = embed = 0
    if "mapping.embed.weight" in state:
        embed, c_dim = shape_of(state, "mapping.embed.weight", where)
    fc0_out, fc0_in = shape_of(state, "mapping.fc0.weight", where)
    w_dim = shape_of(state, f"mapping.fc{fcs[-1]}.weight", where)[0]
    z_dim = fc0_in - embed
    require(not c_dim or embed == w_dim, where, f"the label embedding is {embed} wide, not w_dim {w_dim}")
    require(len(fcs) == 1 or fc0_out == w_dim, where, f"the mapping layers are {fc0_out} wide, not w_dim {w_dim}")
    for i in fcs:
        fc = children(mapping)[f"fc{i}"]
        require(
            attr(fc, "activation", "lrelu") == "lrelu",
            where,
            f"mapping.fc{i} uses activation {attr(fc, 'activation')!r}, not lrelu",
        )
        gain = attr(fc, "bias_gain", 0.01)
        require(abs(float(gain) - 0.01) < 1e-9, where, f"mapping.fc{i} has learning-rate multiplier {gain}, not 0.01")
    kwargs = G.state.get("_init_kwargs") or {}
    for key, value in (("z_dim", z_dim), ("c_dim", c_dim), ("w_dim", w_dim)):
        if key in kwargs:
            require(kwargs[key] == value, where, f"_init_kwargs.{key} is {kwargs[key]} but the tensors give {value}")
    notes = []
    beta = attr(mapping, "w_avg_beta", REPO_DEFAULTS[repo]["w_avg_beta"])
    if beta != OUR_W_AVG_BETA[method]:
        notes.append(f"w_avg_beta {beta} (ganbench tracks w_avg with {OUR_W_AVG_BETA[method]} when fine-tuning)")
    return {"z_dim": z_dim, "w_dim": w_dim, "label_dim": c_dim, "mapping_layers": len(fcs), "notes": notes}


def _fp16_note(blocks: dict, where: str) -> list[str]:
    n = sum(1 for b in blocks.values() if attr(b, "use_fp16", False))
    return (
        [f"{where.split(': ')[-1]}: {n} fp16 block(s) in the source (ganbench's options run them in fp32)"] if n else []
    )


def _check_filters(state: dict, where: str) -> None:
    ours = np.outer(RESAMPLE_FILTER, RESAMPLE_FILTER) / np.sum(RESAMPLE_FILTER) ** 2
    for key, value in state.items():
        if key.endswith("resample_filter") and (
            tuple(value.shape) != ours.shape or not np.allclose(value.double().numpy(), ours, atol=1e-6)
        ):
            raise GanbenchError(f"{where}: {key} is not the [1, 3, 3, 1] filter ganbench uses")


def _our_names(state: dict) -> dict:
    out = {}
    for key, value in state.items():
        if key.endswith("resample_filter"):
            continue
        out[re.sub(r"^mapping\.fc(\d+)\.", r"mapping.fcs.\1.", key)] = value
    return out


def _stylegan2_generator(G, repo: str, where: str) -> tuple[dict, dict]:
    state = flatten(G, where)
    arch = _mapping(G, state, where, repo, "stylegan2")
    synthesis = submodule(G, "synthesis", where)
    resolutions = block_resolutions(synthesis, where, 4)
    blocks = {r: children(synthesis)[f"b{r}"] for r in resolutions}
    R = resolutions[-1]
    kwargs = G.state.get("_init_kwargs") or {}
    for r, block in blocks.items():
        require(
            attr(block, "architecture", "skip") == "skip",
            where,
            f"synthesis.b{r} has architecture {attr(block, 'architecture')!r}; ganbench's generator is 'skip'",
        )
        require(
            set(children(block)) == ({"conv1", "torgb"} | ({"conv0"} if r > 4 else set())),
            where,
            f"synthesis.b{r} has modules {', '.join(sorted(children(block)))}, not conv0, conv1, torgb",
        )
        for name in ("conv0", "conv1") if r > 4 else ("conv1",):
            layer = children(block)[name]
            require(attr(layer, "activation", "lrelu") == "lrelu", where, f"synthesis.b{r}.{name} is not lrelu")
            require(attr(layer, "use_noise", True), where, f"synthesis.b{r}.{name} has no noise input")
    channels = {r: shape_of(state, f"synthesis.b{r}.conv1.weight", where)[0] for r in resolutions}
    hint = (
        _kwarg(kwargs, "channel_base", repo, "synthesis_kwargs"),
        _kwarg(kwargs, "channel_max", repo, "synthesis_kwargs"),
    )
    base, cmax = channel_params(channels, hint, where)
    img_channels = shape_of(state, f"synthesis.b{R}.torgb.weight", where)[0]
    for key, value in (("img_resolution", R), ("img_channels", img_channels)):
        if key in kwargs:
            require(kwargs[key] == value, where, f"_init_kwargs.{key} is {kwargs[key]} but the networks give {value}")
    _check_filters(state, where)
    clamp = attr(children(blocks[R])["conv1"], "conv_clamp", _kwarg(kwargs, "conv_clamp", repo, "synthesis_kwargs"))
    arch["notes"] += _fp16_note(blocks, where)
    arch.update(
        resolution=R,
        img_channels=img_channels,
        channel_base=base,
        channel_max=cmax,
        conv_clamp=None if clamp is None else float(clamp),
    )
    return _our_names(state), arch


def _creps_generator(G, repo: str, where: str) -> tuple[dict, dict]:
    state = flatten(G, where)
    arch = _mapping(G, state, where, repo, "creps")
    synthesis = submodule(G, "synthesis", where)
    resolutions = block_resolutions(synthesis, where, 4)
    R = resolutions[-1]
    key_w, key_f = "synthesis.b4.input.weight", "synthesis.b4.input.freqs"
    one, C, one_b, slots = (shape_of(state, key_w, where) + (0, 0, 0, 0))[:4]
    require(
        len(state[key_w].shape) == 4 and one == one_b == 1 and slots % 2 == 0,
        where,
        f"{key_w} has shape {list(state[key_w].shape)}, not [1, C, 1, 2 rank]",
    )
    rank = slots // 2
    require(
        shape_of(state, key_f, where) == (1, C // 2 * rank),
        where,
        f"{key_f} has shape {list(state[key_f].shape)}, not [1, {C // 2 * rank}]",
    )
    state[key_w] = state[key_w].reshape(C, 2, rank)
    state[key_f] = state[key_f].reshape(C // 2, rank)
    state.pop("synthesis.b4.input.coords", None)
    channels = {r: shape_of(state, f"synthesis.b{r}.fc1.weight", where)[0] for r in resolutions}
    require(channels[4] == C, where, f"the bi-line input has {C} channels but b4.fc1 {channels[4]}")
    kwargs = G.state.get("_init_kwargs") or {}
    base, cmax = channel_params(
        channels, (_kwarg(kwargs, "channel_base", repo), _kwarg(kwargs, "channel_max", repo)), where
    )
    img_channels = shape_of(state, "synthesis.decoder_img.weight", where)[0]
    for key, value in (("img_resolution", R), ("img_channels", img_channels)):
        if key in kwargs:
            require(kwargs[key] == value, where, f"_init_kwargs.{key} is {kwargs[key]} but the networks give {value}")
    arch.update(resolution=R, img_channels=img_channels, channel_base=base, channel_max=cmax, rank=rank)
    return _our_names(state), arch


# --- discriminator ------------------------------------------------------------------------------------------


def _discriminator(D, repo: str, where: str) -> tuple[dict, dict]:
    require(D.class_name == "Discriminator", where, f"is a {D.class_name}, not a Discriminator")
    state = flatten(D, where)
    resolutions = block_resolutions(D, where, 4)
    require(len(resolutions) >= 2, where, "has no blocks b8 ... bR and b4")
    R = resolutions[-1]
    for r in resolutions[1:]:
        block = children(D)[f"b{r}"]
        require(
            attr(block, "architecture", "resnet") == "resnet",
            where,
            f"b{r} has architecture {attr(block, 'architecture')!r}; ganbench's discriminator is 'resnet'",
        )
        expected = {"conv0", "conv1", "skip"} | ({"fromrgb"} if r == R else set())
        require(
            set(children(block)) == expected,
            where,
            f"b{r} has modules {', '.join(sorted(children(block)))}, not {', '.join(sorted(expected))}",
        )
    epilogue = children(D)["b4"]
    mbstd = children(epilogue).get("mbstd")
    require(mbstd is not None, where, "b4 has no minibatch-stddev layer")
    group, num_channels = attr(mbstd, "group_size"), attr(mbstd, "num_channels", 1)
    require(group is not None, where, "b4.mbstd groups the whole batch (group_size None); ganbench needs a group size")
    require(num_channels == 1, where, f"b4.mbstd has {num_channels} channels; ganbench's has 1")
    channels = {r: shape_of(state, f"b{r}.conv0.weight", where)[0] for r in resolutions[1:]}
    channels[4] = shape_of(state, "b4.conv.weight", where)[0]
    kwargs = D.state.get("_init_kwargs") or {}
    defaults = REPO_DEFAULTS["stylegan2-ada-pytorch" if repo == "creps" else repo]
    base, cmax = channel_params(
        channels,
        (kwargs.get("channel_base", defaults["channel_base"]), kwargs.get("channel_max", defaults["channel_max"])),
        where,
    )
    img_channels = shape_of(state, f"b{R}.fromrgb.weight", where)[1]
    c_dim = shape_of(state, "mapping.embed.weight", where)[1] if "mapping.embed.weight" in state else 0
    if c_dim:
        fcs = [k for k in children(submodule(D, "mapping", where)) if re.fullmatch(r"fc\d+", k)]
        require(len(fcs) == 8, where, f"the label mapping has {len(fcs)} layers; ganbench's has 8")
        require(
            shape_of(state, "b4.out.weight", where)[0] == channels[4],
            where,
            "cmap_dim differs from the 4x4 channels (ganbench's default)",
        )
    for key, value in (("img_resolution", R), ("img_channels", img_channels), ("c_dim", c_dim)):
        if key in kwargs:
            require(kwargs[key] == value, where, f"_init_kwargs.{key} is {kwargs[key]} but the networks give {value}")
    _check_filters(state, where)
    clamp = attr(
        children(children(D)[f"b{R}"])["conv0"], "conv_clamp", kwargs.get("conv_clamp", defaults["conv_clamp"])
    )
    blocks = {r: children(D)[f"b{r}"] for r in resolutions[1:]}
    return _our_names(state), {
        "resolution": R,
        "img_channels": img_channels,
        "label_dim": c_dim,
        "channel_base": base,
        "channel_max": cmax,
        "conv_clamp": None if clamp is None else float(clamp),
        "mbstd_group": int(group),
        "notes": _fp16_note(blocks, where),
    }
