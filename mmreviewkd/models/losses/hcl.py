"""Hierarchical context loss (HCL) of ReviewKD (Chen et al., CVPR 2021), docs/design.md §2."""
from typing import List, Sequence

import torch.nn.functional as F
from torch import Tensor, nn

from mmreviewkd.registry import MODELS


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


def hcl_loss(s_feats: Sequence[Tensor],
             t_feats: Sequence[Tensor],
             levels: Sequence[int] = (4, 2, 1),
             nested_pools: bool = True) -> Tensor:
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
        loss = F.mse_loss(fs, ft)
        used = [size for size in levels if size < h]
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
    """

    def __init__(self, loss_weight: float = 1.0, levels: Sequence[int] = (4, 2, 1),
                 nested_pools: bool = True) -> None:
        super().__init__()
        if loss_weight < 0:
            raise ValueError(f'HCLLoss: `loss_weight` must be >= 0, got {loss_weight}')
        self.loss_weight = float(loss_weight)
        self.levels = tuple(levels)
        self.nested_pools = nested_pools

    def forward(self, s_feats: Sequence[Tensor], t_feats: Sequence[Tensor]) -> Tensor:
        """Compute ``loss_weight * hcl_loss(s_feats, t_feats)``.

        Args:
            s_feats (Sequence[Tensor]): Student features shallow -> deep, (N, C_i, H_i, W_i).
            t_feats (Sequence[Tensor]): Teacher features, same shapes.
        """
        return self.loss_weight * hcl_loss(s_feats, t_feats, self.levels, self.nested_pools)
