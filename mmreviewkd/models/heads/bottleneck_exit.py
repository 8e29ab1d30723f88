"""Exit branches of a multi-exit student (TSKD, with BYOT-style defaults)."""
import math
from typing import List, Optional, Tuple

from mmengine.model import BaseModule
from torch import Tensor, nn

from mmreviewkd.registry import MODELS


@MODELS.register_module()
class BottleneckExit(BaseModule):
    """A BYOT-style exit branch (Zhang et al., *Be Your Own Teacher*, ICCV 2019).

    ``1x1 conv (in -> mid)`` -> ``k`` x ``3x3 conv stride 2 (mid -> mid)`` -> ``1x1 conv
    (mid -> out)``, each followed by BN + ReLU, then global average pooling and an FC layer.
    ``k = ceil(log2(in_size / out_size))`` brings the stage's resolution down to the deepest
    stage's; ``out`` equals the deepest stage's channels, so the pooled features of all exits
    live in one space (used by the feature self-distillation term).

    Args:
        in_channels (int): Channels of the backbone stage the exit is attached to.
        out_channels (int): Channels of the exit's feature (the deepest stage's channels).
        num_classes (int): Number of classes.
        in_size (int): Spatial size (H) of the stage feature.
        out_size (int): Spatial size (H) of the deepest stage feature.
        mid_channels (int, optional): Bottleneck width. Defaults to ``in_channels``.
        init_cfg (list, optional): MMEngine init config.
    """

    def __init__(self,
                 in_channels: int,
                 out_channels: int,
                 num_classes: int,
                 in_size: int,
                 out_size: int,
                 mid_channels: Optional[int] = None,
                 init_cfg: Optional[List[dict]] = None) -> None:
        super().__init__(init_cfg=init_cfg or [
            dict(type='Kaiming', layer='Conv2d', mode='fan_out', nonlinearity='relu'),
            dict(type='Constant', val=1, bias=0, layer='BatchNorm2d'),
            dict(type='Normal', layer='Linear', std=0.01),
        ])
        mid = mid_channels or in_channels
        self.num_downsample = max(0, math.ceil(math.log2(max(in_size, 1) / max(out_size, 1))))

        def conv_bn_relu(cin: int, cout: int, k: int, stride: int) -> List[nn.Module]:
            return [nn.Conv2d(cin, cout, k, stride, k // 2, bias=False), nn.BatchNorm2d(cout),
                    nn.ReLU(inplace=True)]

        layers = conv_bn_relu(in_channels, mid, 1, 1)
        for _ in range(self.num_downsample):
            layers += conv_bn_relu(mid, mid, 3, 2)
        layers += conv_bn_relu(mid, out_channels, 1, 1)
        self.layers = nn.Sequential(*layers)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(out_channels, num_classes)

    def forward(self, x: Tensor) -> Tuple[Tensor, Tensor]:
        """(N, in_channels, H, W) -> (logits (N, num_classes), pooled feature (N, out_channels))."""
        feat = self.pool(self.layers(x)).flatten(1)
        return self.fc(feat), feat
