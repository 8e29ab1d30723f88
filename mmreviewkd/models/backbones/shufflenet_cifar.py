"""ShuffleNetV1 and ShuffleNetV2 for CIFAR as used in the KD literature.

ShuffleV1 (Zhang et al. 2018, g = 3): a 1x1 stem to 24 channels, three stages of 4/8/4 grouped
bottlenecks with 240/480/960 channels (the first of each stage has stride 2 and concatenates an
average-pooled shortcut). 0.95M parameters with a 100-way FC.

ShuffleV2 (Ma et al. 2018, 1x): a 3x3 stem to 24 channels, three stages (a down-sampling block +
3/7/3 split-shuffle blocks) with 116/232/464 channels, then a 1x1 conv to 1024. 1.35M parameters
with a 100-way FC.
"""
from typing import List, Optional, Sequence, Tuple

import torch
from torch import Tensor, nn

from mmreviewkd.registry import MODELS
from .base_backbone import StagedBackbone


def channel_shuffle(x: Tensor, groups: int) -> Tensor:
    """(N, C, H, W) -> same shape, channels interleaved across ``groups``."""
    n, c, h, w = x.shape
    return x.view(n, groups, c // groups, h, w).transpose(1, 2).reshape(n, c, h, w)


# ----------------------------------------------------------------------------- ShuffleNetV1
class ShuffleV1Block(nn.Module):
    """Grouped 1x1 -> shuffle -> depthwise 3x3 -> grouped 1x1, with an add (stride 1) or an
    average-pooled concatenated shortcut (stride 2). The final ReLU is ``relu_out``.

    Args:
        cin (int): Input channels.
        cout (int): Output channels of the residual branch.
        stride (int): 1 or 2.
        groups (int): Groups of the 1x1 convs (the first uses 1 when ``cin == 24``).
    """

    def __init__(self, cin: int, cout: int, stride: int, groups: int) -> None:
        super().__init__()
        mid = cout // 4
        g1 = 1 if cin == 24 else groups
        self.groups1 = g1
        self.stride = stride
        self.conv1 = nn.Conv2d(cin, mid, 1, groups=g1, bias=False)
        self.bn1 = nn.BatchNorm2d(mid)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(mid, mid, 3, stride, 1, groups=mid, bias=False)
        self.bn2 = nn.BatchNorm2d(mid)
        self.conv3 = nn.Conv2d(mid, cout, 1, groups=groups, bias=False)
        self.bn3 = nn.BatchNorm2d(cout)
        self.shortcut = nn.AvgPool2d(3, stride=2, padding=1) if stride == 2 else None
        self.relu_out = nn.ReLU(inplace=True)

    def forward(self, x: Tensor) -> Tensor:
        """(N, cin, H, W) -> (N, cout (+ cin if stride 2), H / stride, W / stride)."""
        out = channel_shuffle(self.relu(self.bn1(self.conv1(x))), self.groups1)
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        out = torch.cat([out, self.shortcut(x)], 1) if self.shortcut is not None else out + x
        return self.relu_out(out)


@MODELS.register_module()
class ShuffleNetV1Cifar(StagedBackbone):
    """CIFAR ShuffleNetV1 backbone with MMPretrain's backbone API.

    Args:
        groups (int): Groups of the 1x1 convs. Defaults to 3.
        stage_channels (Sequence[int]): Defaults to (240, 480, 960).
        num_blocks (Sequence[int]): Defaults to (4, 8, 4).
        in_channels (int): Image channels. Defaults to 3.
        out_indices (Sequence[int]): Stages (0..2) to return. Defaults to (2,).
        init_cfg (list, optional): MMEngine init config.

    Outputs for a 32x32 input: (240 @ 16), (480 @ 8), (960 @ 4).
    """

    def __init__(self,
                 groups: int = 3,
                 stage_channels: Sequence[int] = (240, 480, 960),
                 num_blocks: Sequence[int] = (4, 8, 4),
                 in_channels: int = 3,
                 out_indices: Sequence[int] = (2, ),
                 init_cfg: Optional[List[dict]] = None) -> None:
        super().__init__(3, out_indices, init_cfg)
        self.stage_channels = tuple(stage_channels)
        self.num_blocks = tuple(num_blocks)
        self.conv1 = nn.Conv2d(in_channels, 24, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(24)
        self.relu = nn.ReLU(inplace=True)
        cin = 24
        for i, (cout, n) in enumerate(zip(stage_channels, num_blocks)):
            blocks = []
            for j in range(n):
                # the stride-2 block concatenates its input: its branch makes cout - cin
                blocks.append(ShuffleV1Block(cin, cout - cin if j == 0 else cout,
                                             2 if j == 0 else 1, groups))
                cin = cout
            self.add_module(f'layer{i + 1}', nn.Sequential(*blocks))

    def preact_sources(self) -> List[str]:
        """Modules whose input is each returned stage's pre-activation output."""
        return [f'layer{i + 1}.{self.num_blocks[i] - 1}.relu_out' for i in self.out_indices]

    def forward(self, x: Tensor) -> Tuple[Tensor, ...]:
        """(N, C_in, H, W) -> tuple of stage features."""
        x = self.relu(self.bn1(self.conv1(x)))
        return self.run_stages(x, [self.layer1, self.layer2, self.layer3])[1]


# ----------------------------------------------------------------------------- ShuffleNetV2
class ShuffleV2Block(nn.Module):
    """Split-shuffle unit: half the channels pass through, the other half go through
    1x1 -> depthwise 3x3 -> 1x1; concatenation and channel shuffle.

    Args:
        channels (int): Input = output channels.
    """

    def __init__(self, channels: int) -> None:
        super().__init__()
        c = channels // 2
        self.split = c
        self.conv1 = nn.Conv2d(c, c, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(c)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(c, c, 3, 1, 1, groups=c, bias=False)
        self.bn2 = nn.BatchNorm2d(c)
        self.conv3 = nn.Conv2d(c, c, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(c)
        self.relu_out = nn.ReLU(inplace=True)

    def forward(self, x: Tensor) -> Tensor:
        """(N, C, H, W) -> (N, C, H, W)."""
        x1, x2 = x[:, :self.split], x[:, self.split:]
        out = self.relu(self.bn1(self.conv1(x2)))
        out = self.relu_out(self.bn3(self.conv3(self.bn2(self.conv2(out)))))
        return channel_shuffle(torch.cat([x1, out], 1), 2)


class ShuffleV2DownBlock(nn.Module):
    """Stride-2 unit: two branches (depthwise -> 1x1, and 1x1 -> depthwise -> 1x1) concatenated.

    Args:
        cin (int): Input channels.
        cout (int): Output channels.
    """

    def __init__(self, cin: int, cout: int) -> None:
        super().__init__()
        mid = cout // 2
        self.conv1 = nn.Conv2d(cin, cin, 3, 2, 1, groups=cin, bias=False)
        self.bn1 = nn.BatchNorm2d(cin)
        self.conv2 = nn.Conv2d(cin, mid, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(mid)
        self.conv3 = nn.Conv2d(cin, mid, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(mid)
        self.conv4 = nn.Conv2d(mid, mid, 3, 2, 1, groups=mid, bias=False)
        self.bn4 = nn.BatchNorm2d(mid)
        self.conv5 = nn.Conv2d(mid, mid, 1, bias=False)
        self.bn5 = nn.BatchNorm2d(mid)
        self.relu = nn.ReLU(inplace=True)

    def forward(self, x: Tensor) -> Tensor:
        """(N, cin, H, W) -> (N, cout, H / 2, W / 2)."""
        left = self.relu(self.bn2(self.conv2(self.bn1(self.conv1(x)))))
        right = self.relu(self.bn3(self.conv3(x)))
        right = self.relu(self.bn5(self.conv5(self.bn4(self.conv4(right)))))
        return channel_shuffle(torch.cat([left, right], 1), 2)


@MODELS.register_module()
class ShuffleNetV2Cifar(StagedBackbone):
    """CIFAR ShuffleNetV2 backbone with MMPretrain's backbone API.

    Stages: 0..2 the three stages ((116 @ 16), (232 @ 8), (464 @ 4) for 1x and a 32x32 input),
    3 = the final 1x1 conv (1024 @ 4), which the classifier pools. ReviewKD uses stages 0-2 plus
    that pooled vector.

    Args:
        stage_channels (Sequence[int]): Defaults to (116, 232, 464, 1024) (1x).
        num_blocks (Sequence[int]): Defaults to (3, 7, 3).
        in_channels (int): Image channels. Defaults to 3.
        out_indices (Sequence[int]): Stages (0..3) to return. Defaults to (3,).
        init_cfg (list, optional): MMEngine init config.
    """

    def __init__(self,
                 stage_channels: Sequence[int] = (116, 232, 464, 1024),
                 num_blocks: Sequence[int] = (3, 7, 3),
                 in_channels: int = 3,
                 out_indices: Sequence[int] = (3, ),
                 init_cfg: Optional[List[dict]] = None) -> None:
        super().__init__(4, out_indices, init_cfg)
        self.stage_channels = tuple(stage_channels)
        self.num_blocks = tuple(num_blocks)
        self.conv1 = nn.Conv2d(in_channels, 24, 3, 1, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(24)
        self.relu = nn.ReLU(inplace=True)
        cin = 24
        for i, (cout, n) in enumerate(zip(stage_channels[:3], num_blocks)):
            blocks = [ShuffleV2DownBlock(cin, cout)] + [ShuffleV2Block(cout) for _ in range(n)]
            self.add_module(f'layer{i + 1}', nn.Sequential(*blocks))
            cin = cout
        self.conv2 = nn.Conv2d(cin, stage_channels[3], 1, bias=False)
        self.bn2 = nn.BatchNorm2d(stage_channels[3])

    def forward(self, x: Tensor) -> Tuple[Tensor, ...]:
        """(N, C_in, H, W) -> tuple of stage features."""
        x = self.relu(self.bn1(self.conv1(x)))
        x, outs = self.run_stages(x, [self.layer1, self.layer2, self.layer3])
        if 3 in self.out_indices:
            outs += (self.relu(self.bn2(self.conv2(x))), )
        return outs
