"""What a stage consumes: its inputs' content hashes, parts started from a parent, frozen parts.

An experiment's inputs (``ganbench.methods.catalog``) arrive here as files: the training data, and per
role a parent's ``final.pt``, an imported checkpoint, a weights file or an annotations file. Their
sha256 is the resume key's second half (a run never resumes from checkpoints trained on other inputs),
``init_from`` copies named parts from them (non-strictly: a layer the parent lacks keeps its
initialisation, one the child lacks is ignored, both are logged), and parts frozen from an input are
left out of every checkpoint, which records the input's path and sha256 instead; loading such a
checkpoint (:func:`restore_method`) reads them back from that file and refuses another one.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path

import torch

from ganbench.errors import GanbenchError
from ganbench.fileio import sha256_file
from ganbench.methods import build_method
from ganbench.methods.base import Method, InputInfo
from ganbench.methods.catalog import CATALOG


@dataclass(frozen=True)
class InputFile:
    role: str
    source: str  # run | best_fid | checkpoint | weights | annotations | selection | network | data
    path: str
    sha256: str


def describe_inputs(
    experiment: dict, dataset_path, inputs: dict[str, str | os.PathLike] | None
) -> dict[str, InputFile]:
    """The experiment's input files by role (``data`` for the training images), with their sha256.
    ``inputs`` maps each configured role to its file; a missing or unconfigured role is a one-line error."""
    given = {role: Path(p) for role, p in (inputs or {}).items()}
    name = experiment["name"]
    records = {"data": InputFile("data", "data", str(dataset_path), _sha256(Path(dataset_path), f"{name}: data"))}
    for role, spec in experiment.get("inputs", {}).items():
        if role not in given:
            raise GanbenchError(f"experiments.{name}.inputs.{role}: no file given for this input")
        (source,) = spec
        records[role] = InputFile(
            role, source, str(given[role]), _sha256(given[role], f"experiments.{name}.inputs.{role}")
        )
    extra = set(given) - set(records)
    if extra:
        raise GanbenchError(f"experiments.{name}: input {sorted(extra)[0]!r} is not configured under inputs")
    return records


def _sha256(path: Path, where: str) -> str:
    if not path.is_file():
        raise GanbenchError(f"{where}: {path} not found")
    return sha256_file(path)


def input_hashes(records: dict[str, InputFile]) -> dict[str, str]:
    """The part of the resume key that the inputs make: role -> sha256."""
    return {role: r.sha256 for role, r in records.items()}


def parent_infos(records: dict[str, InputFile]) -> dict[str, InputInfo]:
    """What a stage needs to build on its inputs: a run's or checkpoint's method, options and resolution,
    an annotations file's classes."""
    from ganbench.train.checkpoint import load_checkpoint

    infos = {}
    for role, r in records.items():
        if r.source in ("run", "best_fid", "checkpoint", "network"):
            ckpt = load_checkpoint(r.path, mmap=True)
            infos[role] = InputInfo(
                ckpt["method"],
                ckpt["experiment"].get("options", {}),
                ckpt["resolution"],
                ckpt.get("img_channels", 3),
                ckpt.get("label_dim", 0),
            )
        elif r.source == "selection":
            infos[role] = InputInfo(None, {}, 0, extra=json.loads(Path(r.path).read_text()))
        elif r.source == "annotations":
            from ganbench.data.annotations import read_annotation_attrs

            attrs = read_annotation_attrs(r.path)
            infos[role] = InputInfo(None, {}, attrs["resolution"], extra={"classes": attrs["classes"]})
    return infos


WHOLE = "."  # ``role:.``: the input's whole state dict, unprefixed (a plain weights file such as torchvision's)


def split_source(spec: str) -> tuple[str, str | None]:
    """``"role:part"`` -> (role, part); ``"role"`` -> (role, None); ``"role:."`` -> (role, ".")."""
    role, _, part = spec.partition(":")
    return role, part or None


def source_state(record: InputFile) -> dict[str, torch.Tensor]:
    """The full state dict an input offers: a checkpoint's method state (with its own frozen parts read
    back from their files), or a weights file's state dict."""
    if record.source in ("run", "best_fid", "checkpoint", "network"):
        from ganbench.train.checkpoint import load_checkpoint

        return full_state(load_checkpoint(record.path), record.path)
    if record.source == "selection":
        from ganbench.nets.backbones import selected_backbone_state

        return selected_backbone_state(json.loads(Path(record.path).read_text()))
    if record.source == "weights":
        try:
            state = torch.load(record.path, map_location="cpu", weights_only=True)
        except Exception as exc:  # torch raises many types for a damaged file
            raise GanbenchError(f"{record.path}: not a readable weights file ({type(exc).__name__})") from None
        state = state.get("state_dict", state) if isinstance(state, dict) else state
        if not isinstance(state, dict):
            raise GanbenchError(f"{record.path}: not a state dict")
        return _flat_tensors(state)
    raise GanbenchError(f"input {record.role!r} ({record.source}) has no weights to initialise from")


def _flat_tensors(state: dict, prefix: str = "") -> dict[str, torch.Tensor]:
    """Nested dicts flattened to dotted keys, non-tensor values (metadata) dropped: a probe file's ``state``
    becomes ``state.<key>``, so ``init_from`` can take ``role:state``."""
    out = {}
    for key, value in state.items():
        if isinstance(value, dict):
            out.update(_flat_tensors(value, f"{prefix}{key}."))
        elif isinstance(value, torch.Tensor):
            out[prefix + key] = value
    return out


def _with_prefix(state: dict, prefix: str | None) -> dict:
    if not prefix or prefix == WHOLE:
        return dict(state)
    head = prefix + "."
    return {k[len(head) :]: v for k, v in state.items() if k.startswith(head)}


def init_parts(method: Method, init_from: dict[str, str], records: dict[str, InputFile], where: str) -> list[str]:
    """Copy each ``part`` of ``init_from`` from its input; returns one log line per part."""
    lines = []
    for part, spec in init_from.items():
        role, source_part = split_source(spec)
        source = _with_prefix(source_state(records[role]), source_part if source_part else part)
        if not source:
            raise GanbenchError(f"{where}.init_from.{part}: {records[role].path} has no part {source_part or part!r}")
        source = method.input_state(part, source)  # a file in another layout than the part's own names
        lines.append(f"{part} <- {records[role].path}:{source_part or part} " + _load_part(method, part, source, where))
    return lines


def _load_part(method: Method, part: str, source: dict, where: str) -> str:
    module = method.get_submodule(part)
    target = module.state_dict()
    for key, value in source.items():
        if key in target and target[key].shape != value.shape:
            raise GanbenchError(
                f"{where}.init_from.{part}: {key} has shape {tuple(value.shape)} in the input, "
                f"{tuple(target[key].shape)} here"
            )
    missing = [k for k in target if k not in source]
    unexpected = [k for k in source if k not in target]
    module.load_state_dict({k: v for k, v in source.items() if k in target}, strict=False)
    text = f"({len(target) - len(missing)} tensors"
    text += f"; kept initialisation: {', '.join(missing)}" if missing else ""
    text += f"; ignored: {', '.join(unexpected)}" if unexpected else ""
    return text + ")"


def freeze(method: Method, parts: list[str]) -> list[torch.nn.Parameter]:
    """Turn off gradients of the frozen parts; returns their parameters (kept out of optimisers and DDP)."""
    frozen = []
    for part in parts:
        module = method.get_submodule(part)
        module.requires_grad_(False)
        frozen += list(module.parameters())
    return frozen


def frozen_from_inputs(experiment: dict, records: dict[str, InputFile]) -> dict[str, dict]:
    """Frozen parts that an input initialised: part -> where its weights are (recorded in checkpoints
    instead of the weights themselves)."""
    init_from = experiment.get("init_from", {})
    out = {}
    for part in experiment.get("frozen", []):
        owner = next((p for p in init_from if part == p or part.startswith(p + ".")), None)
        if owner is None:
            continue
        role, source_part = split_source(init_from[owner])
        out[part] = {
            "init_part": owner,
            "role": role,
            "source": records[role].source,
            "source_part": source_part or owner,
            "path": records[role].path,
            "sha256": records[role].sha256,
        }
    return out


def saved_state(method: Method, frozen_inputs: dict[str, dict]) -> dict[str, torch.Tensor]:
    """The method's state without the parts an input holds."""
    prefixes = tuple(part + "." for part in frozen_inputs)
    return {k: v for k, v in method.state_dict().items() if not k.startswith(prefixes)}


def load_saved_state(method: Method, state: dict, frozen_inputs: dict[str, dict], where: str) -> None:
    """Load a checkpoint's state; exactly the keys of the parts frozen from inputs may be absent."""
    prefixes = tuple(part + "." for part in frozen_inputs)
    result = method.load_state_dict(state, strict=False)
    missing = [k for k in result.missing_keys if not k.startswith(prefixes)]
    if missing or result.unexpected_keys:
        bad = (missing or result.unexpected_keys)[0]
        raise GanbenchError(
            f"{where}: the checkpoint does not fit the method ({'missing' if missing else 'unexpected'} {bad})"
        )


def full_state(ckpt: dict, path: str | os.PathLike) -> dict[str, torch.Tensor]:
    """A checkpoint's state with the parts frozen from inputs read back from those inputs."""
    state = dict(ckpt["state"])
    for part, info in ckpt.get("frozen_inputs", {}).items():
        source = _checked_input(info, path)
        owner, source_part = info["init_part"], info["source_part"]
        offered = _with_prefix(source_state(source), source_part)
        sub = part[len(owner) :].lstrip(".")
        head = sub + "." if sub else ""
        state.update({f"{part}.{k[len(head) :]}": v for k, v in offered.items() if k.startswith(head)})
    return state


def _checked_input(info: dict, ckpt_path) -> InputFile:
    path = Path(info["path"])
    if not path.is_file():
        raise GanbenchError(f"{ckpt_path}: its frozen part comes from {path}, which is missing")
    sha = sha256_file(path)
    if sha != info["sha256"]:
        raise GanbenchError(
            f"{ckpt_path}: was trained on {path} with sha256 {info['sha256'][:12]}, "
            f"but that file now has {sha[:12]} (another {info['role']})"
        )
    return InputFile(info["role"], info["source"], str(path), sha)


def restore_method(ckpt: dict, path: str | os.PathLike, device: str | torch.device = "cpu") -> Method:
    """The trained method of a checkpoint, in eval mode, with its frozen parts read back from their inputs
    (each checked against the sha256 recorded at training time)."""
    exp = ckpt["experiment"]
    where = f"{path}"
    parents = {role: InputInfo(**info) for role, info in ckpt.get("parents", {}).items()}
    method = build_method(
        ckpt["method"],
        exp.get("options", {}),
        ckpt["resolution"],
        ckpt.get("img_channels", 3),
        ckpt.get("label_dim", 0),
        where=f"experiments.{exp.get('name', '?')}.options",
        parents=parents,
    )
    frozen = ckpt.get("frozen_inputs", {})
    if frozen:
        # tensors of a frozen input that init_from ignored (a weights file's unused heads) stay ignored
        prefixes, known = tuple(part + "." for part in frozen), method.state_dict().keys()
        state = full_state(ckpt, path)
        method.load_state_dict({k: v for k, v in state.items() if k in known or not k.startswith(prefixes)})
    else:
        load_saved_state(method, ckpt["state"], {}, where)
    return method.to(device).eval()


def parent_records(infos: dict[str, InputInfo]) -> dict[str, dict]:
    return {role: asdict(info) for role, info in infos.items()}


def check_parts(method: Method, experiment: dict) -> None:
    """Every part named by ``init_from`` and ``frozen`` exists in the built method (the catalog's
    ``parts`` were checked at validation; this catches deeper paths)."""
    where = f"experiments.{experiment['name']}"
    names = {n for n, _ in method.named_modules()}
    for key in ("init_from", "frozen"):
        for part in experiment.get(key, []):
            if part not in names:
                raise GanbenchError(f"{where}.{key}: {CATALOG[experiment['method']].display} has no part {part!r}")
