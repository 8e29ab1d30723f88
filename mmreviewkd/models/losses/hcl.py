"""Hierarchical context loss (HCL) of ReviewKD (Chen et al., CVPR 2021), docs/design.md §2."""
from typing import List, Optional, Sequence, Tuple

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.autograd.function import once_differentiable

from mmreviewkd.registry import MODELS
from ..utils.block_view import block_view


def pyramid_pools(x: Tensor, levels: Sequence[int]) -> List[Tensor]:
    """``adaptive_avg_pool2d(x, l)`` for every ``l`` in ``levels`` (largest first), each level
    pooled from the previous one where the bins nest exactly.

    A bin of an ``l x l`` pool is the mean of whole bins of a finer ``k x k`` pool when ``k`` is
    a multiple of ``l`` and the map's H and W are multiples of ``k`` (e.g. 32x32 -> 4x4 -> 2x2
    -> 1x1): the same value up to float rounding, but the full map is read (and, backwards,
    written) once instead of once per level. Otherwise the level is pooled from the full map.

    Args:
        x (Tensor): (N, C, H, W).
        levels (Sequence[int]): Pool sizes, each smaller than H (the caller filters).

    Returns:
        list[Tensor]: ``(N, C, l, l)`` per level, in the order of ``levels``.
    """
    pooled = {}
    prev = x  # the finest map pooled so far by whole blocks, of size prev_hw
    prev_hw = tuple(x.shape[-2:])
    for size in sorted(set(levels), reverse=True):
        if prev_hw[0] % size == 0 and prev_hw[1] % size == 0:
            prev = pooled[size] = F.avg_pool2d(prev, (prev_hw[0] // size, prev_hw[1] // size))
            prev_hw = (size, size)
        else:
            pooled[size] = F.adaptive_avg_pool2d(x, size)
    return [pooled[size] for size in levels]


def nested_blocks(shape: Sequence[int], levels: Sequence[int]) -> Optional[List[Tuple[int, int]]]:
    """The pooling blocks ``(bh, bw)`` that take an (H, W) map to each size in ``levels``
    (largest first) by whole blocks of the previous level, or None if a level does not nest
    (H or W not a multiple of the largest size, or a size not dividing the previous one)."""
    blocks = []
    hw = (int(shape[-2]), int(shape[-1]))
    for size in levels:
        if hw[0] % size or hw[1] % size:
            return None
        blocks.append((hw[0] // size, hw[1] // size))
        hw = (size, size)
    return blocks


class PyramidMSE(torch.autograd.Function):
    """One HCL level, ``[mse(fs, ft) + sum_i w_i mse(pool_i(fs), pool_i(ft))] / sum(w)`` with
    ``w = 1, 1/2, 1/4, ...``, computed from the difference map ``d = fs - ft``.

    Average pooling is linear, so every term is a function of ``d`` alone. The gradient is
    ``2 / (sum(w) n) * (d + sum_i w_i up_i(pool_i(d)))`` (``n`` = elements of ``d``): the
    pyramid terms are constant over the blocks of the finest pool, so the backward is one
    pass over ``d`` plus a broadcast of a map the size of that pool. The official formulation
    reads and writes the full maps once per term (MSE, each pool, their backward and the sum of
    the gradients). Same math up to float rounding.

    Inputs: ``fs``, ``ft`` (N, C, H, W); ``blocks``: the nested pooling blocks from
    :func:`nested_blocks` (largest pool first). Output: a scalar in float32 or wider.
    """

    @staticmethod
    def forward(ctx, fs: Tensor, ft: Tensor, blocks: Tuple[Tuple[int, int], ...]  # noqa: D102
                ) -> Tensor:
        dtype = torch.promote_types(torch.promote_types(fs.dtype, ft.dtype), torch.float32)
        d = fs.to(dtype) - ft.to(dtype)
        n = d.numel()
        flat = d.reshape(-1) if d.is_contiguous() else d.permute(0, 2, 3, 1).reshape(-1)
        total = torch.dot(flat, flat) / n  # a view for either layout: one read pass
        weight, weight_sum = 1.0, 1.0
        pooled, coarse = [], d
        for bh, bw in blocks:
            coarse = F.avg_pool2d(coarse, (bh, bw))
            weight /= 2.0
            weight_sum += weight
            total = total + weight * coarse.square().mean()
            pooled.append((weight, coarse))
        ctx.save_for_backward(d)
        ctx.pooled = pooled
        ctx.weight_sum = weight_sum
        ctx.dtypes = (fs.dtype, ft.dtype)
        return total / weight_sum

    @staticmethod
    @once_differentiable
    def backward(ctx, grad: Tensor):  # noqa: D102
        d, = ctx.saved_tensors
        scale = grad * (2.0 / (ctx.weight_sum * d.numel()))
        if not ctx.pooled:
            gd = d * scale
        else:
            # sum_i w_i up_i(pool_i(d)) at the finest pool's size, from the coarsest up
            corr = None
            for weight, coarse in reversed(ctx.pooled):
                if corr is not None:
                    fh, fw = coarse.shape[2] // corr.shape[2], coarse.shape[3] // corr.shape[3]
                    corr = corr.repeat_interleave(fh, 2).repeat_interleave(fw, 3)
                    corr = corr + weight * coarse
                else:
                    corr = weight * coarse
            corr = corr * scale
            bh, bw = d.shape[2] // corr.shape[2], d.shape[3] // corr.shape[3]
            gd = torch.empty_like(d)
            torch.addcmul(corr[:, :, :, None, :, None], block_view(d, bh, bw), scale,
                          out=block_view(gd, bh, bw))
        g_fs = gd.to(ctx.dtypes[0]) if ctx.needs_input_grad[0] else None
        g_ft = -gd.to(ctx.dtypes[1]) if ctx.needs_input_grad[1] else None
        return g_fs, g_ft, None


def hcl_loss(s_feats: Sequence[Tensor],
             t_feats: Sequence[Tensor],
             levels: Sequence[int] = (4, 2, 1),
             nested_pools: bool = True,
             fused_ops: bool = True) -> Tensor:
    """Hierarchical context loss between two feature lists.

    Per level pair: ``mse(fs, ft)`` plus, for each pyramid size ``l`` in ``levels`` with
    ``l < H``, ``w * mse(avgpool_l(fs), avgpool_l(ft))`` with ``w`` halving from 0.5; the sum is
    divided by the total weight used (1.875 for H >= 8 with the default levels). Level losses
    are summed. All MSEs are element means.

    Args:
        s_feats (Sequence[Tensor]): Student (fused) features, each (N, C_i, H_i, W_i).
        t_feats (Sequence[Tensor]): Teacher features of the same shapes.
        levels (Sequence[int]): Output sizes of the adaptive average pools. Defaults to (4, 2, 1).
        nested_pools (bool): Pool each level from the previous one where the sizes divide
            (:func:`pyramid_pools`: the same up to float rounding, the full map read once).
            ``False``: every pool from the full map, as the official code. Defaults to True.
        fused_ops (bool): With ``nested_pools``, compute each level whose pools all nest as one
            :class:`PyramidMSE` (loss and gradient from the difference map; same up to float
            rounding, fewer passes over the full maps). Defaults to True.

    Returns:
        Tensor: Scalar loss.

    Raises:
        ValueError: if the lists differ in length or a pair of features in shape.
    """
    if len(s_feats) != len(t_feats):
        raise ValueError(f'HCL: {len(s_feats)} student vs {len(t_feats)} teacher features')
    total = 0.
    for fs, ft in zip(s_feats, t_feats):
        if fs.shape != ft.shape:
            raise ValueError(f'HCL: student feature {tuple(fs.shape)} and teacher feature '
                             f'{tuple(ft.shape)} differ in shape')
        h = fs.shape[2]
        used = [size for size in levels if size < h]
        # PyramidMSE weights the levels in the given order: distinct sizes, largest first
        blocks = (nested_blocks(fs.shape, used) if fused_ops and nested_pools and
                  used == sorted(set(used), reverse=True) else None)
        if blocks is not None:
            total = total + PyramidMSE.apply(fs, ft, tuple(blocks))
            continue
        loss = F.mse_loss(fs, ft)
        weight, weight_sum = 1.0, 1.0
        if nested_pools:
            pools = zip(pyramid_pools(fs, used), pyramid_pools(ft, used))
        else:
            pools = ((F.adaptive_avg_pool2d(fs, size), F.adaptive_avg_pool2d(ft, size))
                     for size in used)
        for ps, pt in pools:
            weight /= 2.0
            loss = loss + weight * F.mse_loss(ps, pt)
            weight_sum += weight
        total = total + loss / weight_sum
    return total


@MODELS.register_module()
class HCLLoss(nn.Module):
    """Hierarchical context loss over the whole feature list (one call per step).

    Args:
        loss_weight (float): Weight of the loss. Defaults to 1.0.
        levels (Sequence[int]): Pyramid pool sizes. Defaults to (4, 2, 1) (official).
        nested_pools (bool): Pool each pyramid level from the previous one where the sizes
            divide (same result up to float rounding, fewer passes over the full maps).
            ``False``: the official pools from the full map. Defaults to True.
        fused_ops (bool): With ``nested_pools``, each level's loss and gradient from the
            difference map in one step (:class:`PyramidMSE`; same result up to float rounding,
            fewer passes). ``False``: one MSE per term as the official code. Defaults to True.
    """

    def __init__(self, loss_weight: float = 1.0, levels: Sequence[int] = (4, 2, 1),
                 nested_pools: bool = True, fused_ops: bool = True) -> None:
        super().__init__()
        if loss_weight < 0:
            raise ValueError(f'HCLLoss: `loss_weight` must be >= 0, got {loss_weight}')
        self.loss_weight = float(loss_weight)
        self.levels = tuple(levels)
        self.nested_pools = nested_pools
        self.fused_ops = fused_ops

    def forward(self, s_feats: Sequence[Tensor], t_feats: Sequence[Tensor]) -> Tensor:
        """Compute ``loss_weight * hcl_loss(s_feats, t_feats)``.

        Args:
            s_feats (Sequence[Tensor]): Student features shallow -> deep, (N, C_i, H_i, W_i).
            t_feats (Sequence[Tensor]): Teacher features, same shapes.
        """
        return self.loss_weight * hcl_loss(s_feats, t_feats, self.levels, self.nested_pools,
                                             self.fused_ops)
