"""MobileNetV1 (Howard et al. 2017) for ImageNet, the student of ReviewKD's R50 -> MobileNet.

MMPretrain has no MobileNetV1. A stride-2 3x3 stem (32 channels) and 13 depthwise-separable
blocks (3x3 depthwise + BN + ReLU, 1x1 pointwise + BN + ReLU); 4.23M parameters with the
1000-way FC. Stages end at the last block of each resolution: (128 @ 56), (256 @ 28),
(512 @ 14), (1024 @ 7) for 224x224 inputs.
"""
from typing import List, Optional, Sequence, Tuple

from torch import Tensor, nn

from mmreviewkd.registry import MODELS
from .base_backbone import StagedBackbone

# (out_channels, stride) of the 13 depthwise-separable blocks; stage ends after blocks 3/5/11/13
BLOCKS = ((64, 1), (128, 2), (128, 1), (256, 2), (256, 1), (512, 2), (512, 1), (512, 1),
          (512, 1), (512, 1), (512, 1), (1024, 2), (1024, 1))
STAGE_ENDS = (2, 4, 10, 12)


def _dw_separable(cin: int, cout: int, stride: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(cin, cin, 3, stride, 1, groups=cin, bias=False), nn.BatchNorm2d(cin),
        nn.ReLU(inplace=True), nn.Conv2d(cin, cout, 1, bias=False), nn.BatchNorm2d(cout),
        nn.ReLU(inplace=True))


@MODELS.register_module()
class MobileNetV1(StagedBackbone):
    """MobileNetV1 backbone with MMPretrain's backbone API.

    Args:
        widen_factor (float): Channel multiplier. Defaults to 1.0.
        in_channels (int): Image channels. Defaults to 3.
        out_indices (Sequence[int]): Stages (0..3) to return. Defaults to (3,).
        init_cfg (list, optional): MMEngine init config.
    """

    def __init__(self,
                 widen_factor: float = 1.0,
                 in_channels: int = 3,
                 out_indices: Sequence[int] = (3, ),
                 init_cfg: Optional[List[dict]] = None) -> None:
        super().__init__(4, out_indices, init_cfg)
        cin = int(32 * widen_factor)
        self.stem = nn.Sequential(
            nn.Conv2d(in_channels, cin, 3, 2, 1, bias=False), nn.BatchNorm2d(cin),
            nn.ReLU(inplace=True))
        self.layers = nn.ModuleList()
        for cout, stride in BLOCKS:
            cout = int(cout * widen_factor)
            self.layers.append(_dw_separable(cin, cout, stride))
            cin = cout
        self.stage_channels = tuple(int(BLOCKS[e][0] * widen_factor) for e in STAGE_ENDS)

    def forward(self, x: Tensor) -> Tuple[Tensor, ...]:
        """(N, C_in, H, W) -> tuple of stage features."""
        x = self.stem(x)
        outs = []
        for i, layer in enumerate(self.layers):
            x = layer(x)
            if i in STAGE_ENDS and STAGE_ENDS.index(i) in self.out_indices:
                outs.append(x)
        return tuple(outs)
