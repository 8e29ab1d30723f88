"""Hierarchical context loss (HCL) of ReviewKD (Chen et al., CVPR 2021), docs/design.md §2."""
from typing import Sequence

import torch.nn.functional as F
from torch import Tensor, nn

from mmreviewkd.registry import MODELS


def hcl_loss(s_feats: Sequence[Tensor],
             t_feats: Sequence[Tensor],
             levels: Sequence[int] = (4, 2, 1)) -> Tensor:
    """Hierarchical context loss between two feature lists.

    Per level pair: ``mse(fs, ft)`` plus, for each pyramid size ``l`` in ``levels`` with
    ``l < H``, ``w * mse(avgpool_l(fs), avgpool_l(ft))`` with ``w`` halving from 0.5; the sum is
    divided by the total weight used (1.875 for H >= 8 with the default levels). Level losses
    are summed. All MSEs are element means.

    Args:
        s_feats (Sequence[Tensor]): Student (fused) features, each (N, C_i, H_i, W_i).
        t_feats (Sequence[Tensor]): Teacher features of the same shapes.
        levels (Sequence[int]): Output sizes of the adaptive average pools. Defaults to (4, 2, 1).

    Returns:
        Tensor: Scalar loss.
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
        weight, weight_sum = 1.0, 1.0
        for size in levels:
            if size >= h:
                continue
            weight /= 2.0
            loss = loss + weight * F.mse_loss(
                F.adaptive_avg_pool2d(fs, size), F.adaptive_avg_pool2d(ft, size))
            weight_sum += weight
        total = total + loss / weight_sum
    return total


@MODELS.register_module()
class HCLLoss(nn.Module):
    """Hierarchical context loss over the whole feature list (one call per step).

    Args:
        loss_weight (float): Weight of the loss. Defaults to 1.0.
        levels (Sequence[int]): Pyramid pool sizes. Defaults to (4, 2, 1) (official).
    """

    def __init__(self, loss_weight: float = 1.0, levels: Sequence[int] = (4, 2, 1)) -> None:
        super().__init__()
        if loss_weight < 0:
            raise ValueError(f'HCLLoss: `loss_weight` must be >= 0, got {loss_weight}')
        self.loss_weight = float(loss_weight)
        self.levels = tuple(levels)

    def forward(self, s_feats: Sequence[Tensor], t_feats: Sequence[Tensor]) -> Tensor:
        """Compute ``loss_weight * hcl_loss(s_feats, t_feats)``.

        Args:
            s_feats (Sequence[Tensor]): Student features shallow -> deep, (N, C_i, H_i, W_i).
            t_feats (Sequence[Tensor]): Teacher features, same shapes.
        """
        return self.loss_weight * hcl_loss(s_feats, t_feats, self.levels)
