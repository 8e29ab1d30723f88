"""Attention-based fusion (ABF), the building block of ReviewKD's review path.

Faithful to the official ReviewKD code (Chen et al., CVPR 2021), see docs/design.md §2:

* ``conv1``: 1x1 conv (in -> mid, no bias) + BN, no activation;
* ``conv2``: 3x3 conv (mid -> out, padding 1, no bias) + BN, no activation;
* both conv weights ``kaiming_uniform_(a=1)``;
* if ``fuse``: ``att`` = 1x1 conv (2 * mid -> 2, with bias) + sigmoid, giving two independent
  attention maps for the stage's own feature and the (resized) deeper residual.

``split_attention=True`` (default) computes the same attention without materialising the
concatenation: the 1x1 attention conv is split into its halves for the stage feature and for the
residual, and the residual's half runs at the residual's own (lower) resolution before the
nearest upsampling -- a 1x1 conv and a nearest upsampling commute, so the result is the same up
to float rounding, with the same parameters and state dict. A 1x1 residual (the pooled level) is
broadcast instead of upsampled. ``split_attention=False`` runs the official concat formulation.

``fused_ops=True`` (default) makes fewer memory passes over the wide mid-channel maps, with the
same math up to float rounding (:mod:`.abf_ops`): in training, ``conv1``'s BatchNorm takes its
batch statistics from the narrow input and is folded into the 1x1 conv, and the attention
fusion runs on broadcast views of the residual instead of its upsampled copy; on channels_last
maps the folded conv runs inside the fusion, from the narrow input.

A training batch of one image reaches the BatchNorm of the pooled 1x1 level with a single value
per channel, where batch statistics do not exist (torch raises). For such a batch the ABF's
BatchNorms normalise with their running statistics and leave them unchanged; every other batch
uses batch statistics as in the official code. (MMEngine's default ``drop_last=False`` makes a
last batch of one image whenever the training set size is one more than a multiple of the batch
size.)
"""
from typing import Optional, Tuple

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .abf_ops import attention_fusion, can_fold, fold_conv_bn, folded_attention_fusion


def _conv_bn(block: nn.Sequential, x: Tensor) -> Tensor:
    """``block`` = conv + BatchNorm; the BN uses running statistics (not updated) when the
    training batch has one value per channel (a single 1x1 map)."""
    conv, bn = block
    x = conv(x)
    if bn.training and x.shape[0] * x.shape[2] * x.shape[3] == 1:
        return F.batch_norm(x, bn.running_mean, bn.running_var, bn.weight, bn.bias,
                            training=False, eps=bn.eps)
    return bn(x)


class ABF(nn.Module):
    """Attention-based fusion of one student stage with the already-fused deeper stage.

    Args:
        in_channels (int): Channels of the student's stage feature.
        mid_channels (int): Channels of the fused (residual) map.
        out_channels (int): Channels of the output compared with the teacher.
        fuse (bool): Whether a deeper residual is fused in. The deepest ABF does not fuse.
        split_attention (bool): Compute the attention without the concatenation (same result,
            faster; see the module docstring). Defaults to True.
        fused_ops (bool): Fold ``conv1``'s BatchNorm in training and fuse the attention
            products (same result, fewer memory passes; see the module docstring). Defaults to
            True.
    """

    def __init__(self, in_channels: int, mid_channels: int, out_channels: int,
                 fuse: bool,
                 split_attention: bool = True,
                 fused_ops: bool = True) -> None:
        super().__init__()
        self.split_attention = split_attention
        self.fused_ops = fused_ops
        self.in_channels = in_channels
        self.mid_channels = mid_channels
        self.out_channels = out_channels
        self.fuse = fuse
        self.conv1 = nn.Sequential(
            nn.Conv2d(in_channels, mid_channels, kernel_size=1, bias=False),
            nn.BatchNorm2d(mid_channels))
        self.conv2 = nn.Sequential(
            nn.Conv2d(mid_channels, out_channels, kernel_size=3, padding=1, bias=False),
            nn.BatchNorm2d(out_channels))
        self.att: Optional[nn.Module] = None
        if fuse:
            self.att = nn.Sequential(
                nn.Conv2d(mid_channels * 2, 2, kernel_size=1), nn.Sigmoid())
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """The official initialisation: ``kaiming_uniform_(a=1)`` on both convs."""
        nn.init.kaiming_uniform_(self.conv1[0].weight, a=1)
        nn.init.kaiming_uniform_(self.conv2[0].weight, a=1)

    def forward(self,
                x: Tensor,
                residual: Optional[Tensor] = None,
                out_size: Optional[Tuple[int, int]] = None) -> Tuple[Tensor, Tensor]:
        """Fuse a stage with the deeper residual.

        Args:
            x (Tensor): Student stage feature, (N, in_channels, H, W).
            residual (Tensor, optional): Fused map of the deeper stage, (N, mid_channels, h, w);
                resized (nearest) to H x W. Required iff ``fuse``.
            out_size (tuple, optional): The teacher's (H_t, W_t) at this stage; the fused map is
                resized (nearest) to it when it differs.

        Returns:
            tuple: ``(out, fused)`` with ``out`` (N, out_channels, H_t, W_t) to compare with the
            teacher and ``fused`` (N, mid_channels, H_t, W_t), the residual for the next,
            shallower stage.
        """
        att_logits = None
        folded: Optional[Tuple[Tensor, Tensor]] = None  # conv1 folded, applied in the fusion
        if self.fused_ops and can_fold(self.conv1[0], self.conv1[1], x):
            weight, bias = fold_conv_bn(self.conv1[0], self.conv1[1], x)
            if self.att is not None and self.split_attention and residual is not None:
                # the attention's 1x1 conv composed with the folded conv: reads the narrow x
                att = self.att[0]
                w_att = att.weight[:, :self.mid_channels].flatten(1)
                att_logits = F.conv2d(
                    x, (w_att @ weight.flatten(1)).reshape(2, -1, 1, 1), w_att @ bias + att.bias)
                folded = weight, bias
            else:
                x = F.conv2d(x, weight, bias)
        else:
            x = _conv_bn(self.conv1, x)
        if self.att is not None:
            if residual is None:
                raise ValueError('ABF(fuse=True) needs the deeper residual')
            if self.split_attention:
                x = self._fuse_split(x, residual, att_logits, folded)
            else:
                residual = F.interpolate(residual, size=x.shape[-2:], mode='nearest')
                z = self.att(torch.cat([x, residual], dim=1))
                x = x * z[:, 0:1] + residual * z[:, 1:2]
        if out_size is not None and tuple(x.shape[-2:]) != tuple(out_size):
            x = F.interpolate(x, size=tuple(out_size), mode='nearest')
        return _conv_bn(self.conv2, x), x

    def _fuse_split(self, x: Tensor, residual: Tensor,
                    att_logits: Optional[Tensor] = None,
                    folded: Optional[Tuple[Tensor, Tensor]] = None) -> Tensor:
        """The attention fusion without the concatenation (see the module docstring).

        Args:
            x (Tensor): The stage's mapped feature, (N, mid_channels, H, W); with ``folded``
                the stage's feature before ``conv1``, (N, in_channels, H, W).
            residual (Tensor): The deeper fused map, (N, mid_channels, h, w).
            att_logits (Tensor, optional): The stage's half of the attention conv (with its
                bias), (N, 2, H, W), if already computed (folded ``conv1``).
            folded (tuple, optional): ``(weight, bias)`` of the folded ``conv1`` still to be
                applied to ``x``; it runs inside the fusion where it can
                (:func:`folded_attention_fusion`). Requires ``att_logits``.

        Returns:
            Tensor: ``x * a_x + up(residual) * a_r``, (N, mid_channels, H, W).
        """
        conv = self.att[0]
        mid = self.mid_channels
        z = F.conv2d(x, conv.weight[:, :mid], conv.bias) if att_logits is None else att_logits
        z_res = F.conv2d(residual, conv.weight[:, mid:])
        size = x.shape[-2:]
        if residual.shape[-2:] != size and residual.shape[-2:] != (1, 1):
            z_res = F.interpolate(z_res, size=size, mode='nearest')
            if not self.fused_ops:
                residual = F.interpolate(residual, size=size, mode='nearest')
        z = torch.sigmoid(z + z_res)  # a 1x1 residual broadcasts over H x W
        if folded is not None:
            out = folded_attention_fusion(x, *folded, residual, z)
            if out is not None:
                return out
            x = F.conv2d(x, *folded)
        if self.fused_ops:
            return attention_fusion(x, residual, z)
        return x * z[:, 0:1] + residual * z[:, 1:2]
