"""The ABF's memory-bound steps with fewer passes over its widest maps (``ABF(fused_ops=True)``).

On a CPU the review path is limited by memory traffic, not arithmetic: on ResNet-20's 32x32
level the ABF works on 64-channel maps four times as wide as the student's own 16-channel ones
(docs/benchmarks.md, "Where ReviewKD's extra time goes"). Two steps do the same math as the
official modules with fewer passes over those maps:

* :func:`fold_conv_bn`: ``BatchNorm(conv1x1(x))`` in training mode. The batch statistics of
  the conv's output are those of a linear map of ``x``: ``mean = W mean(x)`` and
  ``var_o = w_o^T Cov(x) w_o``, computed from the narrow input; the normalisation is folded
  into the conv's weights and bias. The wide output is written once and never normalised in a
  second pass, and the backward of the BatchNorm over it disappears. Running statistics are
  updated as ``nn.BatchNorm2d`` does (unbiased variance, ``momentum``). Precision: ``w^T Cov w``
  cancels where input channels are correlated, so the fold's variance carries more rounding
  than BatchNorm's direct one. On the stage features of the trained Fashion-MNIST ResNet-56
  (batch 64, random ABF weights) the normalised output is within 1e-5 of float64 (the module:
  4e-6); a contrived input of near-collinear channels loses more (the variance is clamped at 0).
  ``fused_ops=False`` runs the modules. A 1x1 conv that reads
  the folded map (ABF's attention conv) composes with the folded conv and reads the narrow
  input instead.
* :class:`AttentionFusion`: ``x * a_x + up(r) * a_r`` with ``up`` the nearest upsampling by an
  integer factor, computed on broadcast views: the upsampled residual is never materialised,
  its gradient is a sum pooling, and the channel reductions of the attention gradients are one
  ``einsum`` each instead of a product and a sum.

Both equal the official formulation up to float rounding (tests in
``tests/test_models/test_connectors/test_abf_ops.py``, gradients checked in float64).
"""
import functools
from typing import Optional, Tuple

import torch
import torch.nn.functional as F
from torch import Tensor, nn


def can_fold(conv: nn.Conv2d, bn: nn.Module, x: Tensor) -> bool:
    """Whether :func:`fold_conv_bn` applies and pays: a plain training-mode ``nn.BatchNorm2d``
    with affine parameters and running statistics after a bias-free 1x1 conv that widens the
    map (``C_in < C_out``: the statistics then come from the narrower side), and more than one
    value per channel (SyncBatchNorm and every other case keep the modules)."""
    return (type(bn) is nn.BatchNorm2d and conv.in_channels < conv.out_channels and bn.training and bn.affine and
            bn.track_running_stats and conv.bias is None and conv.kernel_size == (1, 1) and
            conv.stride == (1, 1) and conv.padding == (0, 0) and conv.groups == 1 and
            conv.dilation == (1, 1) and x.shape[0] * x.shape[2] * x.shape[3] > 1)


def fold_conv_bn(conv: nn.Conv2d, bn: nn.BatchNorm2d, x: Tensor) -> Tuple[Tensor, Tensor]:
    """The weight and bias of a 1x1 conv equal to ``bn(conv(x))`` in training mode, with the
    batch statistics taken from ``x`` (see the module docstring); updates ``bn``'s running
    statistics and ``num_batches_tracked`` as its forward would. Both depend on ``x`` (through
    the statistics), and autograd differentiates through them as through the BatchNorm.

    Args:
        conv (nn.Conv2d): A bias-free 1x1 conv, ``C_in -> C_out`` (see :func:`can_fold`).
        bn (nn.BatchNorm2d): Its BatchNorm over ``C_out`` channels, in training mode.
        x (Tensor): (N, C_in, H, W), any memory format.

    Returns:
        tuple[Tensor, Tensor]: weight (C_out, C_in, 1, 1) and bias (C_out,) in ``x``'s dtype:
        ``F.conv2d(x, weight, bias)`` equals ``bn(conv(x))`` up to float rounding.
    """
    n, c_in, h, w = x.shape
    m = n * h * w
    weight = conv.weight.reshape(conv.out_channels, c_in)
    # the statistics in fp32 (fp64 for fp64 inputs), under autocast too: a bf16 covariance would
    # lose the variance (float64 statistics cost more than the fold saves, measured)
    dtype = torch.float64 if x.dtype == torch.float64 else torch.float32
    with torch.autocast(device_type=x.device.type, enabled=False):
        flat = x.to(dtype).permute(0, 2, 3, 1).reshape(m, c_in)  # a view for channels_last
        mean_x = flat.mean(0)
        centred = flat - mean_x
        cov = centred.T @ centred / m
        w_d = weight.to(dtype)
        mean = w_d @ mean_x
        var = ((w_d @ cov) * w_d).sum(1).clamp_min(0)  # biased, as BatchNorm normalises with
        scale = bn.weight.to(dtype) * torch.rsqrt(var + bn.eps)
        shift = bn.bias.to(dtype) - mean * scale
        folded = (w_d * scale[:, None]).reshape(conv.weight.shape)
    with torch.no_grad():
        bn.num_batches_tracked.add_(1)
        momentum = (bn.momentum if bn.momentum is not None else
                    1.0 / float(bn.num_batches_tracked))
        unbiased = var.detach() * (m / (m - 1))
        bn.running_mean.mul_(1 - momentum).add_(mean.detach().to(bn.running_mean.dtype),
                                                alpha=momentum)
        bn.running_var.mul_(1 - momentum).add_(unbiased.to(bn.running_var.dtype),
                                               alpha=momentum)
    return folded.to(x.dtype), shift.to(x.dtype)


def upsample_factors(x: Tensor, residual: Tensor) -> Optional[Tuple[int, int]]:
    """The integer nearest-upsampling factors from ``residual``'s size to ``x``'s, or None when
    a side does not divide (then ``F.interpolate`` and plain ops are used)."""
    (hx, wx), (hr, wr) = x.shape[-2:], residual.shape[-2:]
    if hx % hr or wx % wr:
        return None
    return hx // hr, wx // wr


def _blocks(t: Tensor, fh: int, fw: int) -> Tensor:
    """(N, C, h*fh, w*fw) -> (N, C, h, fh, w, fw), a view whatever the strides."""
    n, c, hh, ww = t.shape
    return t.unflatten(3, (ww // fw, fw)).unflatten(2, (hh // fh, fh))


class AttentionFusion(torch.autograd.Function):
    """``x * z[:, 0:1] + up(r) * z[:, 1:2]``, ``up`` = nearest upsampling by integer factors.

    Inputs: ``x`` (N, C, H, W), ``r`` (N, C, H/fh, W/fw), ``z`` (N, 2, H, W) (the two sigmoid
    attention maps of ABF), all of one dtype. Output: (N, C, H, W) in ``x``'s memory format.
    Use :func:`attention_fusion`, which checks the factors and unifies the dtypes.
    """

    @staticmethod
    def forward(ctx, x: Tensor, r: Tensor, z: Tensor) -> Tensor:  # noqa: D102
        fh, fw = x.shape[2] // r.shape[2], x.shape[3] // r.shape[3]
        out = x * z[:, 0:1]
        _blocks(out, fh, fw).addcmul_(r[:, :, :, None, :, None], _blocks(z[:, 1:2], fh, fw))
        ctx.save_for_backward(x, r, z)
        ctx.factors = (fh, fw)
        return out

    @staticmethod
    def backward(ctx, grad: Tensor):  # noqa: D102
        x, r, z = ctx.saved_tensors
        fh, fw = ctx.factors
        gx = gr = gz = None
        if ctx.needs_input_grad[0]:
            gx = grad * z[:, 0:1]
        if ctx.needs_input_grad[1]:
            gr = grad * z[:, 1:2]
            if (fh, fw) != (1, 1):  # the gradient of nearest upsampling: a sum over each block
                gr = F.avg_pool2d(gr, (fh, fw), divisor_override=1)
        if ctx.needs_input_grad[2]:
            up = r if (fh, fw) == (1, 1) else (
                r.expand(-1, -1, *x.shape[2:]) if r.shape[2:] == (1, 1) else
                F.interpolate(r, size=x.shape[2:], mode='nearest'))
            gz = torch.stack([torch.einsum('nchw,nchw->nhw', grad, x),
                              torch.einsum('nchw,nchw->nhw', grad, up)], 1)
        return gx, gr, gz


def attention_fusion(x: Tensor, residual: Tensor, z: Tensor) -> Tensor:
    """``x * z[:, 0:1] + up(residual) * z[:, 1:2]`` (nearest ``up`` to ``x``'s size), with
    :class:`AttentionFusion` where the size ratio is an integer and plain ops otherwise.

    Args:
        x (Tensor): (N, C, H, W).
        residual (Tensor): (N, C, h, w).
        z (Tensor): (N, 2, H, W) attention maps.

    Returns:
        Tensor: (N, C, H, W).
    """
    dtype = functools.reduce(torch.promote_types, (x.dtype, residual.dtype, z.dtype))
    x, residual, z = (t.to(dtype) for t in (x, residual, z))  # no-ops when they agree
    factors = upsample_factors(x, residual)
    if factors is None:
        up = F.interpolate(residual, size=x.shape[-2:], mode='nearest')
        return x * z[:, 0:1] + up * z[:, 1:2]
    return AttentionFusion.apply(x, residual, z)
