"""The ABF's memory-bound steps with fewer passes over its widest maps (``ABF(fused_ops=True)``).

On a CPU the review path is limited by memory traffic, not arithmetic: on ResNet-20's 32x32
level the ABF works on 64-channel maps four times as wide as the student's own 16-channel ones
(docs/benchmarks.md, "Where ReviewKD's extra time goes"). These steps do the same math as
the official modules with fewer passes over those maps:

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
  ``fused_ops=False`` runs the modules. The statistics have a hand-written backward
  (:class:`FoldedBatchNorm`: one matrix product with the centred input). A 1x1 conv that reads
  the folded map (ABF's attention conv) composes with the folded conv and reads the narrow
  input instead.
* :class:`AttentionFusion`: ``x * a_x + up(r) * a_r`` with ``up`` the nearest upsampling by an
  integer factor, computed on broadcast views: the upsampled residual is never materialised,
  its gradient is a sum pooling (:func:`residual_grad`), and the channel reductions of the
  attention gradients are one batched product each in float32 (:func:`channel_dot`,
  :func:`residual_attention_grad`) instead of a product and a sum.
* :class:`FoldedAttentionFusion` (channels_last): the folded conv and the fusion in one step.
  The attention scales each pixel, so ``(W x + b) * a_x = [W, b] [x * a_x; a_x]``: the wide
  output of the folded conv is never written, and its gradient never materialised.

All equal the official formulation up to float rounding (tests in
``tests/test_models/test_connectors/test_abf_ops.py``, gradients checked in float64).
"""
import functools
from typing import Optional, Tuple

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.autograd.function import once_differentiable

from ..utils.block_view import block_view


def can_fold(conv: nn.Conv2d, bn: nn.Module, x: Tensor) -> bool:
    """Whether :func:`fold_conv_bn` applies and pays: a plain training-mode ``nn.BatchNorm2d``
    with affine parameters and running statistics after a bias-free 1x1 conv that widens the
    map (``C_in < C_out``: the statistics then come from the narrower side), and more than one
    value per channel (SyncBatchNorm and every other case keep the modules)."""
    return (type(bn) is nn.BatchNorm2d and conv.in_channels < conv.out_channels and
            bn.training and bn.affine and bn.track_running_stats and conv.bias is None and
            conv.kernel_size == (1, 1) and conv.stride == (1, 1) and conv.padding == (0, 0) and
            conv.groups == 1 and conv.dilation == (1, 1) and
            x.shape[0] * x.shape[2] * x.shape[3] > 1)


class FoldedBatchNorm(torch.autograd.Function):
    """The folded weight and bias of ``BatchNorm(conv1x1(x))`` in training mode, with the batch
    statistics from ``x``'s mean and covariance (see the module docstring), and a hand-written
    backward: the gradient of ``x`` through the statistics is one matrix product with the
    centred input, ``(2 centred G + 1 (W^T g_mean)^T) / M`` with ``G = W^T diag(g_var) W`` (the
    centred rows sum to zero), instead of autograd's passes through the covariance, the
    centring and the mean.

    Inputs: ``x`` (N, C_in, H, W), ``weight`` (C_out, C_in), ``gamma``/``beta`` (C_out,),
    ``eps``. Outputs, in float32 (float64 for float64 ``x``), also under autocast: the folded
    weight (C_out, C_in), bias (C_out,), and the batch mean and biased variance (C_out,) of the
    conv's output (not differentiable; for the running statistics).
    """

    @staticmethod
    def forward(ctx, x: Tensor, weight: Tensor, gamma: Tensor, beta: Tensor,  # noqa: D102
                eps: float):
        # the statistics in fp32 (fp64 for fp64 inputs): a bf16 covariance would lose the
        # variance (float64 statistics cost more than the fold saves, measured)
        dtype = torch.float64 if x.dtype == torch.float64 else torch.float32
        with torch.autocast(device_type=x.device.type, enabled=False):
            flat = pixels(x.to(dtype))  # a view for channels_last
            m = flat.shape[0]
            mean_x = flat.mean(0)
            centred = flat - mean_x
            cov = centred.T @ centred / m
            w = weight.to(dtype)
            w_cov = w @ cov
            mean = w @ mean_x
            raw_var = (w_cov * w).sum(1)  # biased, as BatchNorm normalises with
            var = raw_var.clamp_min(0)
            inv_std = torch.rsqrt(var + eps)
            scale = gamma.to(dtype) * inv_std
            folded = w * scale[:, None]
            shift = beta.to(dtype) - mean * scale
        ctx.save_for_backward(centred, mean_x, w, w_cov, mean, raw_var, inv_std, scale, gamma)
        ctx.x_shape = x.shape
        ctx.mark_non_differentiable(mean, var)
        ctx.dtypes = (x.dtype, weight.dtype, gamma.dtype, beta.dtype)
        return folded, shift, mean, var

    @staticmethod
    @once_differentiable
    def backward(ctx, g_folded: Tensor, g_shift: Tensor, _g_mean, _g_var):  # noqa: D102
        centred, mean_x, w, w_cov, mean, raw_var, inv_std, scale, gamma = ctx.saved_tensors
        with torch.autocast(device_type=centred.device.type, enabled=False):
            g_folded = torch.zeros_like(w) if g_folded is None else g_folded.to(w.dtype)
            g_shift = torch.zeros_like(mean) if g_shift is None else g_shift.to(w.dtype)
            g_scale = (g_folded * w).sum(1) - g_shift * mean
            g_mean = -g_shift * scale
            g_var = (g_scale * gamma.to(w.dtype) * -0.5 * inv_std.pow(3)) * (raw_var >= 0)
            gx = gw = g_gamma = g_beta = None
            if ctx.needs_input_grad[0]:
                m = centred.shape[0]
                g_cov = (w.T * g_var) @ w  # symmetric
                gx = torch.addmm((w.T @ g_mean / m)[None], centred, g_cov, alpha=2.0 / m)
                n, _, h, wd = ctx.x_shape
                gx = gx.reshape(n, h, wd, -1).permute(0, 3, 1, 2).to(ctx.dtypes[0])
            if ctx.needs_input_grad[1]:
                gw = (g_folded * scale[:, None] + g_mean[:, None] * mean_x[None] +
                      2.0 * g_var[:, None] * w_cov).to(ctx.dtypes[1])
            if ctx.needs_input_grad[2]:
                g_gamma = (g_scale * inv_std).to(ctx.dtypes[2])
            if ctx.needs_input_grad[3]:
                g_beta = g_shift.to(ctx.dtypes[3])
        return gx, gw, g_gamma, g_beta, None


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
    c_in = x.shape[1]
    m = x.numel() // c_in
    folded, shift, mean, var = FoldedBatchNorm.apply(
        x, conv.weight.reshape(conv.out_channels, c_in), bn.weight, bn.bias, bn.eps)
    with torch.no_grad():
        bn.num_batches_tracked.add_(1)
        momentum = (bn.momentum if bn.momentum is not None else
                    1.0 / float(bn.num_batches_tracked))
        unbiased = var * (m / (m - 1))
        bn.running_mean.mul_(1 - momentum).add_(mean.to(bn.running_mean.dtype),
                                                alpha=momentum)
        bn.running_var.mul_(1 - momentum).add_(unbiased.to(bn.running_var.dtype),
                                               alpha=momentum)
    return folded.reshape(conv.weight.shape).to(x.dtype), shift.to(x.dtype)


def upsample_factors(x: Tensor, residual: Tensor) -> Optional[Tuple[int, int]]:
    """The integer nearest-upsampling factors from ``residual``'s size to ``x``'s, or None when
    a side does not divide (then ``F.interpolate`` and plain ops are used)."""
    (hx, wx), (hr, wr) = x.shape[-2:], residual.shape[-2:]
    if hx % hr or wx % wr:
        return None
    return hx // hr, wx // wr


def residual_grad(grad: Tensor, z1: Tensor, factors: Tuple[int, int]) -> Tensor:
    """The gradient of ``r`` in ``up(r) * z1``: ``grad * z1`` summed over each upsampling block.

    For blocks of at most 4 pixels (e.g. 2x2), one strided product per block position
    accumulates into the small result (the full-size product is never written); otherwise
    product and sum pooling.

    Args:
        grad (Tensor): (N, C, H, W), the gradient of the fusion's output.
        z1 (Tensor): (N, 1, H, W), the residual's attention map.
        factors (tuple[int, int]): The integer upsampling factors (fh, fw).

    Returns:
        Tensor: (N, C, H / fh, W / fw).
    """
    fh, fw = factors
    if fh * fw > 4:
        return F.avg_pool2d(grad * z1, (fh, fw), divisor_override=1)
    gr = None
    for a in range(fh):
        for b in range(fw):
            g, z = grad[:, :, a::fh, b::fw], z1[:, :, a::fh, b::fw]
            gr = g * z if gr is None else gr.addcmul_(g, z)
    return gr


def channel_dot(a: Tensor, b: Tensor) -> Tensor:
    """``(a * b).sum(1)``, the per-pixel dot product over channels: (N, C, ...) -> (N, ...).

    In float32 / float64 one ``einsum`` (a batched 1 x C by C x 1 product per pixel: the full-size
    product is never written). In bfloat16 / float16 ``torch.linalg.vecdot`` (a product and a
    sum), because there the batched product is several times slower: measured on 2 threads of
    this package's AMX benchmark CPU, 3.6 vs 0.45 ms for 65 536 x 16, 1.9 vs 0.13 ms for
    16 384 x 32 and 5.6 vs 0.95 ms for 65 536 x 64 (pixels x channels).
    """
    if a.dtype in (torch.bfloat16, torch.float16):
        return torch.linalg.vecdot(a, b, dim=1)
    dims = 'nabcdefg'[:a.dim()]
    return torch.einsum(f'{dims},{dims}->{dims[0] + dims[2:]}', a, b)


def residual_attention_grad(grad: Tensor, r: Tensor, factors: Tuple[int, int]) -> Tensor:
    """The gradient of ``z1`` in ``up(r) * z1``: ``sum_c grad * up(r)``, (N, H, W).

    For channels_last maps and a residual at most 16 pixels wide, per row of residual pixels a
    matrix product of the gradient's rows with the residual's pixels, of which the diagonal
    blocks are kept: the upsampled residual is never written. Otherwise from ``up(r)``.

    Args:
        grad (Tensor): (N, C, H, W).
        r (Tensor): (N, C, H / fh, W / fw).
        factors (tuple[int, int]): The integer upsampling factors (fh, fw).
    """
    fh, fw = factors
    n, c, h, w = r.shape
    cl = torch.channels_last
    if (fh, fw) != (1, 1) and w <= 16 and grad.is_contiguous(memory_format=cl) and \
            r.is_contiguous(memory_format=cl):
        rows = grad.permute(0, 2, 3, 1).reshape(n * h, fh * w * fw, c)
        prod = torch.bmm(rows, r.permute(0, 2, 3, 1).reshape(n * h, w, c).transpose(1, 2))
        diag = prod.view(n * h, fh, w, fw, w).diagonal(dim1=2, dim2=4)  # (n h, fh, fw, w)
        return diag.permute(0, 1, 3, 2).reshape(n, h * fh, w * fw)
    up = r if (fh, fw) == (1, 1) else (
        r.expand(-1, -1, *grad.shape[2:]) if r.shape[2:] == (1, 1) else
        F.interpolate(r, size=grad.shape[2:], mode='nearest'))
    return channel_dot(grad, up)


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
        block_view(out, fh, fw).addcmul_(r[:, :, :, None, :, None], block_view(z[:, 1:2], fh, fw))
        ctx.save_for_backward(x, r, z)
        ctx.factors = (fh, fw)
        return out

    @staticmethod
    @once_differentiable
    def backward(ctx, grad: Tensor):  # noqa: D102
        x, r, z = ctx.saved_tensors
        fh, fw = ctx.factors
        gx = gr = gz = None
        if ctx.needs_input_grad[0]:
            gx = grad * z[:, 0:1]
        if ctx.needs_input_grad[1]:
            gr = residual_grad(grad, z[:, 1:2], (fh, fw))
        if ctx.needs_input_grad[2]:
            gz = torch.stack([channel_dot(grad, x),
                              residual_attention_grad(grad, r, (fh, fw))], 1)
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


def pixels(t: Tensor) -> Tensor:
    """(N, C, H, W) -> (N * H * W, C), one row per pixel: a view of channels_last memory."""
    return t.permute(0, 2, 3, 1).reshape(-1, t.shape[1])


def _scaled_inputs(x: Tensor, z0: Tensor) -> Tensor:
    """``[x * z0, z0]`` per pixel, (N * H * W, C_in + 1): the inputs of the folded 1x1 conv
    with its bias column, scaled by the stage's attention map."""
    xf, zf = pixels(x), pixels(z0)
    xs = xf.new_empty((xf.shape[0], xf.shape[1] + 1))
    torch.mul(xf, zf, out=xs[:, :-1])
    xs[:, -1:].copy_(zf)
    return xs


class FoldedAttentionFusion(torch.autograd.Function):
    """``(W x + b) * z[:, 0:1] + up(r) * z[:, 1:2]``: the folded 1x1 conv and the attention
    fusion of ABF in one step, computed from the narrow ``x``.

    The attention map scales each pixel, so it commutes with the 1x1 conv:
    ``(W x + b) * a = [W, b] [x * a; a]``. The wide map ``W x + b`` is never written: the
    forward is one matrix product from the narrow scaled inputs into the output, plus the
    residual's products; the backward reads the output gradient once per matrix product
    (``[W, b]^T g`` gives the gradients of ``x`` and of the stage's attention map, ``g^T [x * a;
    a]`` those of ``W`` and ``b``) instead of writing and re-reading the gradient of the wide
    map. Same math as :func:`fold_conv_bn`'s conv followed by :class:`AttentionFusion`.

    Inputs: ``x`` (N, C_in, H, W) and ``z`` (N, 2, H, W) in channels_last memory, ``weight``
    (C_mid, C_in), ``bias`` (C_mid,), ``r`` (N, C_mid, H/fh, W/fw) with integer factors, all of
    one dtype. Output: (N, C_mid, H, W), channels_last. Use :func:`folded_attention_fusion`.
    """

    @staticmethod
    def forward(ctx, x: Tensor, weight: Tensor, bias: Tensor, r: Tensor,  # noqa: D102
                z: Tensor) -> Tensor:
        n, _, h, w = x.shape
        fh, fw = h // r.shape[2], w // r.shape[3]
        w_ext = torch.cat([weight, bias[:, None]], 1)
        out = torch.empty((n, weight.shape[0], h, w), dtype=x.dtype, device=x.device,
                          memory_format=torch.channels_last)
        torch.mm(_scaled_inputs(x, z[:, 0:1]), w_ext.t(), out=pixels(out))
        block_view(out, fh, fw).addcmul_(r[:, :, :, None, :, None], block_view(z[:, 1:2], fh, fw))
        ctx.save_for_backward(x, w_ext, r, z)
        ctx.factors = (fh, fw)
        return out

    @staticmethod
    @once_differentiable
    def backward(ctx, grad: Tensor):  # noqa: D102
        x, w_ext, r, z = ctx.saved_tensors
        fh, fw = ctx.factors
        need_x, need_w, need_b, need_r, need_z = ctx.needs_input_grad
        grad = grad.contiguous(memory_format=torch.channels_last)
        g = pixels(grad)
        gx = gw = gb = gr = gz = None
        if need_x or need_z:
            u = g @ w_ext  # (M, C_in + 1): [W^T g, b^T g] per pixel
            c_in = x.shape[1]
            if need_x:
                gx = (u[:, :c_in] * pixels(z[:, 0:1])).reshape(
                    x.shape[0], x.shape[2], x.shape[3], c_in).permute(0, 3, 1, 2)
            if need_z:
                gz = torch.empty_like(z, memory_format=torch.channels_last)
                gzf = pixels(gz)
                torch.add(channel_dot(u[:, :c_in], pixels(x)), u[:, c_in],
                          out=gzf[:, 0])
                gzf[:, 1] = residual_attention_grad(grad, r, (fh, fw)).reshape(-1)
        if need_w or need_b:
            # (C_mid, C_in + 1), as the transpose of the product with the pixels as the
            # contraction's rows: 1.8 vs 1.1 ms at 65 536 pixels x 64 channels (2 threads)
            g_ext = (_scaled_inputs(x, z[:, 0:1]).t() @ g).t()
            gw, gb = g_ext[:, :-1], g_ext[:, -1]
        if need_r:
            gr = residual_grad(grad, z[:, 1:2], (fh, fw))
        return gx, gw, gb, gr, gz


def folded_attention_fusion(x: Tensor, weight: Tensor, bias: Tensor, residual: Tensor,
                            z: Tensor) -> Optional[Tensor]:
    """``F.conv2d(x, weight, bias)`` fused with ``residual`` by :func:`attention_fusion`, as
    :class:`FoldedAttentionFusion` where it applies (channels_last ``x``, one dtype, integer
    upsampling factors); None otherwise (the caller runs the two steps).

    Args:
        x (Tensor): (N, C_in, H, W).
        weight (Tensor): (C_mid, C_in, 1, 1), e.g. from :func:`fold_conv_bn`.
        bias (Tensor): (C_mid,).
        residual (Tensor): (N, C_mid, h, w).
        z (Tensor): (N, 2, H, W) attention maps.

    Returns:
        Tensor | None: (N, C_mid, H, W), channels_last.
    """
    dtypes = {t.dtype for t in (x, weight, bias, residual, z)}
    if (len(dtypes) != 1 or not x.is_contiguous(memory_format=torch.channels_last)
            or upsample_factors(x, residual) is None):
        return None
    return FoldedAttentionFusion.apply(x, weight.flatten(1), bias, residual,
                                       z.contiguous(memory_format=torch.channels_last))
