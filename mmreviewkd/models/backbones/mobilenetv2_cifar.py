"""MobileNetV2 for CIFAR as used in the KD literature ("MobileNetV2" = width 0.5, expansion 6).

A stride-2 3x3 stem, seven groups of inverted residual blocks (t, c, n, s):
(1, 16, 1, 1), (t, 24, 2, 1), (t, 32, 3, 2), (t, 64, 4, 2), (t, 96, 3, 1), (t, 160, 3, 2),
(t, 320, 1, 1) with channels scaled by ``widen_factor``, then a 1x1 conv to 1280 channels.
Parameter count with a 100-way FC: 0.81M.
"""
from typing import List, Optional, Sequence, Tuple

from torch import Tensor, nn

from mmreviewkd.registry import MODELS
from .base_backbone import StagedBackbone

SETTINGS = ((1, 16, 1, 1), (None, 24, 2, 1), (None, 32, 3, 2), (None, 64, 4, 2),
            (None, 96, 3, 1), (None, 160, 3, 2), (None, 320, 1, 1))
# stage i ends after group STAGE_ENDS[i] (0-based); stage 5 is the final 1x1 conv
STAGE_ENDS = (1, 2, 4, 6)


def _conv_bn(cin: int, cout: int, k: int, stride: int = 1, groups: int = 1,
             act: bool = True) -> List[nn.Module]:
    layers = [nn.Conv2d(cin, cout, k, stride, k // 2, groups=groups, bias=False),
              nn.BatchNorm2d(cout)]
    if act:
        layers.append(nn.ReLU(inplace=True))
    return layers


class InvertedResidual(nn.Module):
    """1x1 expansion, 3x3 depthwise, linear 1x1 projection; identity shortcut when shapes match.

    Args:
        cin (int): Input channels.
        cout (int): Output channels.
        stride (int): Depthwise stride.
        expand_ratio (int): Expansion factor t.
    """

    def __init__(self, cin: int, cout: int, stride: int, expand_ratio: int) -> None:
        super().__init__()
        mid = cin * expand_ratio
        self.use_res_connect = stride == 1 and cin == cout
        self.conv = nn.Sequential(
            *_conv_bn(cin, mid, 1), *_conv_bn(mid, mid, 3, stride, groups=mid),
            *_conv_bn(mid, cout, 1, act=False))

    def forward(self, x: Tensor) -> Tensor:
        """(N, cin, H, W) -> (N, cout, H / stride, W / stride)."""
        out = self.conv(x)
        return x + out if self.use_res_connect else out


@MODELS.register_module()
class MobileNetV2Cifar(StagedBackbone):
    """CIFAR MobileNetV2 backbone with MMPretrain's backbone API.

    Stages: 0 = stem (N, 32w, 16, 16), 1 = after group 1 (24w @ 16), 2 = after group 2
    (32w @ 8), 3 = after group 4 (96w @ 4), 4 = after group 6 (320w @ 2), 5 = the final 1x1 conv
    (1280 @ 2), for a 32x32 input. The classifier pools stage 5; ReviewKD uses stages 1-4 plus
    that pooled vector.

    Args:
        widen_factor (float): Channel multiplier. Defaults to 0.5 (the KD literature's model).
        expand_ratio (int): Expansion t of groups 2-7. Defaults to 6.
        in_channels (int): Image channels. Defaults to 3.
        out_indices (Sequence[int]): Stages (0..5) to return. Defaults to (5,).
        init_cfg (list, optional): MMEngine init config.
    """

    def __init__(self,
                 widen_factor: float = 0.5,
                 expand_ratio: int = 6,
                 in_channels: int = 3,
                 out_indices: Sequence[int] = (5, ),
                 init_cfg: Optional[List[dict]] = None) -> None:
        super().__init__(6, out_indices, init_cfg)
        cin = int(32 * widen_factor)
        self.conv1 = nn.Sequential(*_conv_bn(in_channels, cin, 3, stride=2))
        channels = [cin]
        self.blocks = nn.ModuleList()
        for t, c, n, s in SETTINGS:
            cout = int(c * widen_factor)
            layers = []
            for j in range(n):
                layers.append(InvertedResidual(cin, cout, s if j == 0 else 1,
                                               expand_ratio if t is None else t))
                cin = cout
            self.blocks.append(nn.Sequential(*layers))
            channels.append(cout)
        self.last_channels = 1280
        self.conv2 = nn.Sequential(*_conv_bn(cin, self.last_channels, 1))
        self.stage_channels = (channels[0], ) + tuple(
            channels[e + 1] for e in STAGE_ENDS) + (self.last_channels, )

    def forward(self, x: Tensor) -> Tuple[Tensor, ...]:
        """(N, C_in, H, W) -> tuple of stage features."""
        x = self.conv1(x)
        outs = [x] if 0 in self.out_indices else []
        stage = 1
        for g, block in enumerate(self.blocks):
            x = block(x)
            if g in STAGE_ENDS:
                if stage in self.out_indices:
                    outs.append(x)
                stage += 1
        x = self.conv2(x)
        if 5 in self.out_indices:
            outs.append(x)
        return tuple(outs)
