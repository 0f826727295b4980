"""DatasetGAN's StyleGAN (v1) ``*.for_g_all.pt`` state dicts -> ganbench's StyleGAN (v1) generator.

The file (research/checkpoints.md §3) is a ``torch.save``d state dict of ``Sequential(g_mapping, truncation,
g_synthesis)`` in the "lernapparat" PyTorch port's names; equalized-lr weights are stored at unit scale, as
ganbench stores them, so values are copied; names change:

| file | ganbench (``stylegan1`` G and G_ema) | transform |
|---|---|---|
| ``g_mapping.dense{i}.weight`` [out, in] | ``mapping.fcs.{i}.weight`` | copy |
| ``g_mapping.dense{i}.bias`` | ``mapping.fcs.{i}.bias`` | / sqrt(2) (the lrelu gain moves after the activation) |
| ``truncation.avg_latent`` [w_dim] (or the release's ``avg_latent*.npy``) | ``mapping.w_avg`` | copy |
| ``g_synthesis.blocks.4x4.const`` [1, C, 4, 4], ``.bias`` | ``synthesis.b4.const``, ``.const_bias`` | drop axis 0 |
| ``blocks.4x4.conv``, ``blocks.{r}x{r}.conv1`` | ``synthesis.b{r}.conv1`` | copy |
| ``blocks.{r}x{r}.conv0_up`` (``intermediate.kernel`` must be the [1, 2, 1] blur) | ``synthesis.b{r}.conv0`` | copy |
| ``blocks.*.epi{1,2}.top_epi.noise.weight`` [C] | ``epilogue{0,1}.noise_strength`` | copy |
| ``blocks.*.epi{1,2}.style_mod.lin.{weight, bias}`` | ``epilogue{0,1}.affine_{weight, bias}`` | copy |
| ``g_synthesis.torgb`` | ``synthesis.torgb`` | copy |

Every tensor must be consumed: an unknown key, a missing one or a shape that breaks the layout is one line. The
file holds no noise tensors (constant noise is drawn from seed 0) and no discriminator (the imported D is
initialised from seed 0, so the checkpoint samples and feeds stages but is not a fine-tuning start).
Without ``truncation.avg_latent`` the mean w comes from the ``avg_latent`` file the release ships beside the
data; failing that, the mean of the mapping over 10,000 latents of seed 0, which the notes say.
"""

from __future__ import annotations

import math
import re
from pathlib import Path

import numpy as np
import torch

from ganbench.errors import GanbenchError
from ganbench.nets.importers.common import ImportedNetworks, channel_params

AVG_SAMPLES = 10_000
BLUR = torch.tensor([[1.0, 2.0, 1.0], [2.0, 4.0, 2.0], [1.0, 2.0, 1.0]]) / 16


def is_stylegan1_state_dict(obj) -> bool:
    return (
        isinstance(obj, dict)
        and any(str(k).startswith("g_mapping.") for k in obj)
        and any(str(k).startswith("g_synthesis.") for k in obj)
    )


def load_torch_state(path: Path):
    """A ``torch.save`` archive read with ``weights_only`` (tensors and containers only, no code); None where it
    holds anything else (a ganbench checkpoint, which the caller refuses with its own line)."""
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception:  # torch raises many types for a damaged or code-carrying file
        return None


def convert_stylegan1(
    state: dict, where: str, avg_latent: str | Path | None = None, reference=None
) -> ImportedNetworks:
    """``state``: the file's state dict; ``avg_latent``: the release's mean-w ``.npy`` (used when the file has no
    ``truncation.avg_latent``); ``reference``: a freshly built ``stylegan1`` generator of the file's shape to take
    the constant-noise buffers from (built here, seed 0, when None)."""
    state = {str(k): v for k, v in state.items()}
    for k, v in state.items():
        if not isinstance(v, torch.Tensor):
            raise GanbenchError(f"{where}: {k} is a {type(v).__name__}, not a tensor")
    used: set[str] = set()

    def take(key: str, shape: tuple | None = None) -> torch.Tensor:
        if key not in state:
            raise GanbenchError(f"{where}: has no tensor {key!r} (not a StyleGAN .for_g_all.pt layout)")
        value = state[key]
        if shape is not None and tuple(value.shape) != tuple(shape):
            raise GanbenchError(f"{where}: {key} has shape {list(value.shape)}, expected {list(shape)}")
        used.add(key)
        return value.detach().to(torch.float32).clone()

    # mapping
    dense = sorted(int(m.group(1)) for k in state if (m := re.fullmatch(r"g_mapping\.dense(\d+)\.weight", k)))
    if not dense or dense != list(range(len(dense))):
        raise GanbenchError(f"{where}: mapping layers g_mapping.dense0..N are missing or not numbered 0..N-1")
    w_dim, z_dim = state[f"g_mapping.dense{dense[-1]}.weight"].shape[0], state["g_mapping.dense0.weight"].shape[1]
    G: dict[str, torch.Tensor] = {}
    fan_in = z_dim
    for i in dense:
        out = state[f"g_mapping.dense{i}.weight"].shape[0]
        G[f"mapping.fcs.{i}.weight"] = take(f"g_mapping.dense{i}.weight", (out, fan_in))
        G[f"mapping.fcs.{i}.bias"] = take(f"g_mapping.dense{i}.bias", (out,)) / math.sqrt(2)
        fan_in = out
    if fan_in != w_dim:
        raise GanbenchError(f"{where}: the mapping ends in {fan_in} features, not w_dim {w_dim}")

    # synthesis: blocks 4x4 ... RxR, doubling
    found = sorted(int(m.group(1)) for k in state if (m := re.fullmatch(r"g_synthesis\.blocks\.(\d+)x\1\..*", k)))
    resolutions = sorted(set(found))
    expected = [2**i for i in range(2, int(math.log2(resolutions[-1])) + 1)] if resolutions else []
    if not resolutions or resolutions != expected:
        shown = ", ".join(f"{r}x{r}" for r in resolutions) or "none"
        raise GanbenchError(f"{where}: synthesis blocks ({shown}) are not 4x4 ... RxR doubling each time")
    channels = {}
    for r in resolutions:
        key = f"g_synthesis.blocks.{r}x{r}.{'conv' if r == 4 else 'conv1'}.weight"
        if key not in state or state[key].ndim != 4:
            raise GanbenchError(f"{where}: has no 4-D tensor {key!r} (not a StyleGAN .for_g_all.pt layout)")
        channels[r] = state[key].shape[0]
    channel_base, channel_max = channel_params(channels, (16384, 512), where)
    for r in resolutions:
        c, src, dst = channels[r], f"g_synthesis.blocks.{r}x{r}", f"synthesis.b{r}"
        if r == 4:
            G[f"{dst}.const"] = take(f"{src}.const", (1, c, 4, 4))[0]
            G[f"{dst}.const_bias"] = take(f"{src}.bias", (c,))
            G[f"{dst}.conv1.weight"] = take(f"{src}.conv.weight", (c, c, 3, 3))
            G[f"{dst}.conv1.bias"] = take(f"{src}.conv.bias", (c,))
        else:
            c_in = channels[r // 2]
            G[f"{dst}.conv0.weight"] = take(f"{src}.conv0_up.weight", (c, c_in, 3, 3))
            G[f"{dst}.conv0.bias"] = take(f"{src}.conv0_up.bias", (c,))
            kernel = take(f"{src}.conv0_up.intermediate.kernel", (1, 1, 3, 3))[0, 0]
            if not torch.allclose(kernel, BLUR, atol=1e-6):
                raise GanbenchError(f"{where}: {src}.conv0_up.intermediate.kernel is not the [1, 2, 1] blur")
            G[f"{dst}.conv1.weight"] = take(f"{src}.conv1.weight", (c, c, 3, 3))
            G[f"{dst}.conv1.bias"] = take(f"{src}.conv1.bias", (c,))
        for k in (0, 1):
            epi = f"{src}.epi{k + 1}"
            G[f"{dst}.epilogue{k}.noise_strength"] = take(f"{epi}.top_epi.noise.weight", (c,))
            G[f"{dst}.epilogue{k}.affine_weight"] = take(f"{epi}.style_mod.lin.weight", (2 * c, w_dim))
            G[f"{dst}.epilogue{k}.affine_bias"] = take(f"{epi}.style_mod.lin.bias", (2 * c,))
    resolution = resolutions[-1]
    rgb = state.get("g_synthesis.torgb.weight")
    img_channels = rgb.shape[0] if isinstance(rgb, torch.Tensor) and rgb.ndim == 4 else 3
    G["synthesis.torgb.weight"] = take("g_synthesis.torgb.weight", (img_channels, channels[resolution], 1, 1))
    G["synthesis.torgb.bias"] = take("g_synthesis.torgb.bias", (img_channels,))

    notes = [
        "no discriminator in the file: D is initialised from seed 0 (sample and annotate with it; "
        "do not fine-tune without training D first)",
        "no noise tensors in the file: constant noise drawn from seed 0",
    ]
    if "truncation.avg_latent" in state:
        G["mapping.w_avg"] = take("truncation.avg_latent", (w_dim,))
        w_avg_from = None
    elif avg_latent is not None:
        G["mapping.w_avg"] = _read_avg_latent(Path(avg_latent), w_dim)
        w_avg_from = None
    else:
        w_avg_from = "estimate"
    leftover = sorted(set(state) - used)
    if leftover:
        raise GanbenchError(
            f"{where}: has {leftover[0]!r}, which ganbench's StyleGAN (v1) does not represent "
            f"({len(leftover)} unused tensors)"
        )

    options = {
        "z_dim": int(z_dim),
        "w_dim": int(w_dim),
        "mapping_layers": len(dense),
        "channel_base": int(channel_base),
        "channel_max": int(channel_max),
    }
    if reference is None:
        from ganbench.nets.stylegan1 import Generator

        torch.manual_seed(0)
        reference = Generator(
            z_dim,
            0,
            w_dim,
            img_resolution=resolution,
            img_channels=img_channels,
            channel_base=channel_base,
            channel_max=channel_max,
            mapping_kwargs=dict(num_layers=len(dense)),
        )
    for key, value in reference.state_dict().items():
        if key.endswith("noise_const"):
            G[key] = value.detach().clone()
    if w_avg_from == "estimate":
        reference.load_state_dict({**reference.state_dict(), **G, "mapping.w_avg": torch.zeros(w_dim)})
        with torch.no_grad():
            z = torch.randn(AVG_SAMPLES, z_dim, generator=torch.Generator().manual_seed(0))
            G["mapping.w_avg"] = reference.mapping(z, None)[:, 0].mean(0)
        notes.append(
            f"no avg_latent in the file and none given: w_avg is the mean w of {AVG_SAMPLES} latents of seed 0 "
            "(the release's avg_latent*.npy gives the official truncation centre)"
        )
    return ImportedNetworks(
        method="stylegan1",
        format="stylegan1-state-dict",
        options=options,
        resolution=int(resolution),
        img_channels=int(img_channels),
        label_dim=0,
        G=G,
        G_ema={k: v.clone() for k, v in G.items()},
        D=None,
        notes=notes,
    )


def _read_avg_latent(path: Path, w_dim: int) -> torch.Tensor:
    try:
        value = np.load(path, allow_pickle=False)
    except (OSError, ValueError) as exc:
        raise GanbenchError(f"{path}: not a readable .npy array ({exc.__class__.__name__})") from None
    value = np.asarray(value, dtype=np.float32).reshape(-1) if np.asarray(value).size == w_dim else None
    if value is None:
        raise GanbenchError(f"{path}: the average latent must hold {w_dim} values (w_dim of the generator)")
    return torch.from_numpy(value.copy())
