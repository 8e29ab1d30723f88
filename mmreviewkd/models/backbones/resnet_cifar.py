"""The 3-stage CIFAR ResNets of the KD literature (resnet8 ... resnet110, resnet8x4, resnet32x4).

Architecture facts follow the RepDistiller / ReviewKD model zoo (He et al. 2016, CIFAR variant):
a 3x3 stem, three stages of ``(depth - 2) // 6`` basic blocks with stride 1, 2, 2, and
``num_filters = [16, 16, 32, 64]`` (``x4``: ``[32, 64, 128, 256]``). The classifier (global pool +
FC) is MMPretrain's ``GlobalAveragePooling`` neck and ``LinearClsHead``, so parameter counts of
backbone + head equal the literature's (resnet20 0.27M, resnet56 0.86M, resnet32x4 7.43M on
CIFAR-100).
"""
from typing import List, Optional, Sequence, Tuple

from torch import Tensor, nn

from mmreviewkd.registry import MODELS
from .base_backbone import StagedBackbone


class CifarBasicBlock(nn.Module):
    """Basic residual block with a separate final activation module.

    The final ReLU is its own module (``relu_out``) so that recorders can read the stage's
    pre-activation output as that module's input.

    Args:
        in_channels (int): Input channels.
        out_channels (int): Output channels.
        stride (int): Stride of the first conv. Defaults to 1.
    """

    def __init__(self, in_channels: int, out_channels: int, stride: int = 1) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, out_channels, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(out_channels)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(out_channels, out_channels, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(out_channels)
        self.downsample: Optional[nn.Module] = None
        if stride != 1 or in_channels != out_channels:
            self.downsample = nn.Sequential(
                nn.Conv2d(in_channels, out_channels, 1, stride, bias=False),
                nn.BatchNorm2d(out_channels))
        self.relu_out = nn.ReLU(inplace=True)

    def forward(self, x: Tensor) -> Tensor:
        """(N, C_in, H, W) -> (N, C_out, H / stride, W / stride)."""
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.relu_out(out + identity)


@MODELS.register_module()
class ResNetCifar(StagedBackbone):
    """CIFAR ResNet backbone (3 stages) with MMPretrain's backbone API.

    Args:
        depth (int): 8, 14, 20, 32, 44, 56 or 110 (``6n + 2``).
        width (int): Channel multiplier: 1 for resnetN, 4 for resnetNx4. Defaults to 1.
        in_channels (int): Input image channels. Defaults to 3.
        out_indices (Sequence[int]): Stages (0, 1, 2) whose outputs are returned, shallow to
            deep. Defaults to (2,).
        frozen_stages (int): Stages (stem = 0) whose parameters are frozen; -1 freezes nothing.
            Defaults to -1.
        init_cfg (dict, optional): MMEngine init config. Defaults to Kaiming for convs and
            constant 1/0 for BN.

    Outputs: a tuple with one ``(N, C_i, H_i, W_i)`` tensor per entry of ``out_indices``; for a
    32x32 input ``C = (16, 32, 64) * width`` and ``H = (32, 16, 8)``.
    """

    arch_settings = {d: (d - 2) // 6 for d in (8, 14, 20, 32, 44, 56, 110)}

    def __init__(self,
                 depth: int = 20,
                 width: int = 1,
                 in_channels: int = 3,
                 out_indices: Sequence[int] = (2, ),
                 frozen_stages: int = -1,
                 init_cfg: Optional[List[dict]] = None) -> None:
        super().__init__(3, out_indices, init_cfg)
        if depth not in self.arch_settings:
            raise ValueError(f'ResNetCifar: `depth` must be one of '
                             f'{sorted(self.arch_settings)}, got {depth}')
        self.depth = depth
        self.frozen_stages = frozen_stages
        num_blocks = self.arch_settings[depth]
        filters = [16 * width, 16 * width, 32 * width, 64 * width]
        self.stage_channels = tuple(filters[1:])

        self.conv1 = nn.Conv2d(in_channels, filters[0], 3, 1, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(filters[0])
        self.relu = nn.ReLU(inplace=True)
        channels = filters[0]
        self.num_blocks = num_blocks
        for i, (out_ch, stride) in enumerate(zip(filters[1:], (1, 2, 2))):
            blocks = []
            for j in range(num_blocks):
                blocks.append(CifarBasicBlock(channels, out_ch, stride if j == 0 else 1))
                channels = out_ch
            self.add_module(f'layer{i + 1}', nn.Sequential(*blocks))
        self._freeze_stages()

    def preact_sources(self) -> List[str]:
        """Names (relative to this backbone) of the modules whose *input* is the pre-activation
        output of each stage in ``out_indices`` (the last block's final ReLU)."""
        return [f'layer{i + 1}.{self.num_blocks - 1}.relu_out' for i in self.out_indices]

    def _freeze_stages(self) -> None:
        modules = [nn.ModuleList([self.conv1, self.bn1])]
        modules += [getattr(self, f'layer{i + 1}') for i in range(3)]
        for m in modules[:self.frozen_stages + 1]:
            m.eval()
            for p in m.parameters():
                p.requires_grad = False

    def train(self, mode: bool = True) -> 'ResNetCifar':
        super().train(mode)
        self._freeze_stages()
        return self

    supports_stagewise = True

    def forward_stage(self, x: Tensor, index: int) -> Tensor:
        """Stage ``index`` alone (0 includes the stem); see ``StagedBackbone.forward_stage``."""
        if index == 0:
            x = self.relu(self.bn1(self.conv1(x)))
        return getattr(self, f'layer{index + 1}')(x)

    def forward(self, x: Tensor) -> Tuple[Tensor, ...]:
        """(N, C_in, H, W) -> tuple of stage features (see class docstring)."""
        return self.run_stagewise(x, 3)


__all__ = ['ResNetCifar', 'CifarBasicBlock']
