"""bias_act: bias, activation, gain and clamp in one op, with the StyleGAN2-ADA semantics.

``y = clamp(act(x + b) * gain, -clamp, clamp)``, the bias broadcast along dimension ``dim``.

The compiled kernels (``kernels/bias_act*``) make one pass over memory for the forward pass
and one for the backward pass (input and bias gradients together); the backward pass is an
autograd function of its own, so second derivatives (R1, path-length regularization) work.
:func:`bias_act_ref` is the pure-PyTorch ground truth.
"""

from __future__ import annotations

import math
from typing import Callable, NamedTuple

import torch
import torch.nn.functional as F

from ganbench.errors import OpsError
from ganbench.ops import _build


class Activation(NamedTuple):
    """One row of the activation table."""

    func: Callable[[torch.Tensor, float], torch.Tensor]  # reference: (x, alpha) -> act(x)
    def_alpha: float  # default alpha (the leaky ReLU slope; unused by the others)
    def_gain: float  # default gain: keeps the signal magnitude of a random init
    kernel: int  # activation index of the C++/CUDA kernels (kernels/bias_act.h)
    has_2nd_grad: bool  # act'' is not zero almost everywhere


ACTIVATIONS: dict[str, Activation] = {
    "linear": Activation(lambda x, alpha: x, 0.0, 1.0, 1, False),
    "relu": Activation(lambda x, alpha: F.relu(x), 0.0, math.sqrt(2), 2, False),
    "lrelu": Activation(lambda x, alpha: F.leaky_relu(x, alpha), 0.2, math.sqrt(2), 3, False),
    "tanh": Activation(lambda x, alpha: torch.tanh(x), 0.0, 1.0, 4, True),
    "sigmoid": Activation(lambda x, alpha: torch.sigmoid(x), 0.0, 1.0, 5, True),
    "elu": Activation(lambda x, alpha: F.elu(x), 0.0, 1.0, 6, True),
    "selu": Activation(lambda x, alpha: F.selu(x), 0.0, 1.0, 7, True),
    "softplus": Activation(lambda x, alpha: F.softplus(x), 0.0, 1.0, 8, True),
    "swish": Activation(lambda x, alpha: torch.sigmoid(x) * x, 0.0, math.sqrt(2), 9, True),
}

_EMPTY: dict[tuple[torch.device, torch.dtype], torch.Tensor] = {}


def _resolve(
    x: torch.Tensor,
    b: torch.Tensor | None,
    dim: int,
    act: str,
    alpha: float | None,
    gain: float | None,
    clamp: float | None,
) -> tuple[Activation, int, float, float, float]:
    """Validate the arguments; fill in the table's defaults. clamp < 0 means no clamping."""
    if act not in ACTIVATIONS:
        raise OpsError(f"unknown activation {act!r}: expected one of {', '.join(ACTIVATIONS)}")
    spec = ACTIVATIONS[act]
    if not isinstance(x, torch.Tensor) or not x.is_floating_point():
        raise OpsError(f"bias_act needs a float tensor x, got {getattr(x, 'dtype', type(x).__name__)}")
    if b is not None:
        if x.ndim == 0:
            raise OpsError("bias_act: a bias needs x with at least one dimension")
        if not -x.ndim <= dim < x.ndim:
            raise OpsError(f"bias_act: dim={dim} is out of range for x of shape {list(x.shape)}")
        dim %= x.ndim
        if b.ndim != 1 or b.shape[0] != x.shape[dim]:
            raise OpsError(f"bias_act: b of shape {list(b.shape)} must be [{x.shape[dim]}] (x.shape[{dim}])")
    elif x.ndim:
        dim %= x.ndim
    alpha = float(spec.def_alpha if alpha is None else alpha)
    gain = float(spec.def_gain if gain is None else gain)
    clamp = float(-1 if clamp is None else clamp)
    return spec, dim, alpha, gain, clamp


def bias_act(
    x: torch.Tensor,
    b: torch.Tensor | None = None,
    dim: int = 1,
    act: str = "linear",
    alpha: float | None = None,
    gain: float | None = None,
    clamp: float | None = None,
    impl: str | None = None,
) -> torch.Tensor:
    """Add a bias, apply an activation, scale, clamp: ``clamp(act(x + b) * gain)``.

    Args:
        x: float tensor of any shape (any strides; channels-last is kept).
        b: [x.shape[dim]] bias, same dtype and device as x, or None.
        dim: the dimension of x the bias runs along.
        act: one of :data:`ACTIVATIONS`: linear, relu, lrelu, tanh, sigmoid, elu, selu,
            softplus, swish.
        alpha: leaky ReLU slope (default 0.2); other activations ignore it.
        gain: output scale; default the activation's (sqrt(2) for relu, lrelu, swish; else 1).
        clamp: clamp the output to [-clamp, clamp]; None or a negative value: no clamping.
        impl: ``auto`` | ``cuda`` | ``cpp`` | ``ref``; default ``$GANBENCH_OPS`` or ``auto``.

    Returns:
        tensor of x's shape, dtype and device. Differentiable twice in x and b.
    """
    spec, dim, alpha, gain, clamp = _resolve(x, b, dim, act, alpha, gain, clamp)
    if b is not None and (b.dtype != x.dtype or b.device != x.device):
        raise OpsError(f"bias_act: b ({b.dtype}, {b.device}) must match x ({x.dtype}, {x.device})")
    module = _build.select("bias_act", x, impl)
    if module is None:
        return _bias_act_ref(x, b, dim, spec, alpha, gain, clamp)
    if act == "linear" and b is None and gain == 1 and clamp < 0:
        return x
    cfg = _Config(module, spec, dim, alpha, gain, clamp)
    return _BiasAct.apply(x, b, cfg)


def bias_act_ref(
    x: torch.Tensor,
    b: torch.Tensor | None = None,
    dim: int = 1,
    act: str = "linear",
    alpha: float | None = None,
    gain: float | None = None,
    clamp: float | None = None,
) -> torch.Tensor:
    """The pure-PyTorch bias_act: the ground truth. Arguments and shapes as :func:`bias_act`."""
    spec, dim, alpha, gain, clamp = _resolve(x, b, dim, act, alpha, gain, clamp)
    return _bias_act_ref(x, b, dim, spec, alpha, gain, clamp)


def _bias_act_ref(
    x: torch.Tensor, b: torch.Tensor | None, dim: int, spec: Activation, alpha: float, gain: float, clamp: float
) -> torch.Tensor:
    if b is not None:
        x = x + b.reshape([-1 if i == dim else 1 for i in range(x.ndim)])
    x = spec.func(x, alpha)
    if gain != 1:
        x = x * gain
    if clamp >= 0:
        x = x.clamp(-clamp, clamp)
    return x


# ---------------------------------------------------------------------------------------------
# The compiled path: forward (mode 0), gradient (mode 1), second gradient (mode 2)


class _Config(NamedTuple):
    module: object
    spec: Activation
    dim: int
    alpha: float
    gain: float
    clamp: float

    def run(self, mode: int, x, b, dy=None, g=None, want_db: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
        empty = _empty(x)
        out, db = self.module.bias_act(
            x,
            empty if b is None else b,
            empty if dy is None else dy,
            empty if g is None else g,
            mode,
            self.spec.kernel,
            self.alpha,
            self.gain,
            self.clamp,
            self.dim,
            want_db,
        )
        return out, db


def _empty(x: torch.Tensor) -> torch.Tensor:
    key = (x.device, x.dtype)
    if key not in _EMPTY:
        _EMPTY[key] = torch.empty(0, dtype=x.dtype, device=x.device)
    return _EMPTY[key]


class _BiasAct(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x: torch.Tensor, b: torch.Tensor | None, cfg: _Config) -> torch.Tensor:  # type: ignore[override]
        y, _ = cfg.run(0, x, b)
        ctx.save_for_backward(x, b)
        ctx.cfg = cfg
        return y

    @staticmethod
    def backward(ctx, dy: torch.Tensor):  # type: ignore[override]
        x, b = ctx.saved_tensors
        need_x, need_b, _ = ctx.needs_input_grad
        if not (need_x or need_b):
            return None, None, None
        dx, db = _BiasActGrad.apply(dy, x, b, ctx.cfg, need_b)
        return (dx if need_x else None), (db if need_b else None), None


class _BiasActGrad(torch.autograd.Function):
    """(dy, x, b) -> (dx, db): the gradient of bias_act, itself differentiable once more.

    db (the sum of dx over every dim but ``dim``) is only computed when ``want_db``; it is an
    empty tensor otherwise.
    """

    @staticmethod
    def forward(  # type: ignore[override]
        ctx, dy: torch.Tensor, x: torch.Tensor, b: torch.Tensor | None, cfg: _Config, want_db: bool
    ):
        want_db = want_db and b is not None
        dx, db = cfg.run(1, x, b, dy=dy, want_db=want_db)
        ctx.save_for_backward(dy, x, b)
        ctx.cfg = cfg
        ctx.want_db = want_db
        if not want_db:
            ctx.mark_non_differentiable(db)
        return dx, db

    @staticmethod
    def backward(ctx, gdx: torch.Tensor, gdb: torch.Tensor):  # type: ignore[override]
        dy, x, b = ctx.saved_tensors
        cfg: _Config = ctx.cfg
        need_dy, need_x, need_b = ctx.needs_input_grad[:3]
        # db is the sum of dx over all dims but `dim`: its gradient is broadcast onto dx's.
        g = gdx
        if ctx.want_db and gdb is not None:
            g = g + gdb.reshape([-1 if i == cfg.dim else 1 for i in range(x.ndim)])
        d_dy = d_x = d_b = None
        if need_dy:  # dx is linear in dy
            d_dy, _ = _BiasActGrad.apply(g, x, b, cfg, False)
        if cfg.spec.has_2nd_grad and (need_x or need_b):
            d_x, d_b = cfg.run(2, x, b, dy=dy, g=g, want_db=need_b)
        # (relu, lrelu, linear are piecewise linear: act'' = 0, no gradient to x and b)
        return d_dy, (d_x if need_x else None), (d_b if need_b else None), None, None
