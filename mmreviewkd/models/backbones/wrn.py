"""Wide ResNets for CIFAR (Zagoruyko & Komodakis 2016) as used in the KD literature.

WRN-d-k: a 3x3 stem with 16 channels, three groups of ``(d - 4) // 6`` pre-activation basic
blocks with ``16k, 32k, 64k`` channels (strides 1, 2, 2), then BN + ReLU. Parameter counts with a
100-way FC: WRN-40-2 2.26M, WRN-16-2 0.70M, WRN-40-1 0.57M.
"""
from typing import List, Optional, Sequence, Tuple

from torch import Tensor, nn

from mmreviewkd.registry import MODELS
from .base_backbone import StagedBackbone


class WideBasicBlock(nn.Module):
    """Pre-activation basic block (BN-ReLU-conv-BN-ReLU-conv) with a 1x1 projection shortcut
    when the shape changes.

    Args:
        in_channels (int): Input channels.
        out_channels (int): Output channels.
        stride (int): Stride of the first conv.
    """

    def __init__(self, in_channels: int, out_channels: int, stride: int) -> None:
        super().__init__()
        self.bn1 = nn.BatchNorm2d(in_channels)
        self.relu1 = nn.ReLU(inplace=True)
        self.conv1 = nn.Conv2d(in_channels, out_channels, 3, stride, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(out_channels)
        self.relu2 = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(out_channels, out_channels, 3, 1, 1, bias=False)
        self.shortcut: Optional[nn.Module] = None
        if in_channels != out_channels or stride != 1:
            self.shortcut = nn.Conv2d(in_channels, out_channels, 1, stride, bias=False)

    def forward(self, x: Tensor) -> Tensor:
        """(N, C_in, H, W) -> (N, C_out, H / stride, W / stride)."""
        act = self.relu1(self.bn1(x))
        out = self.conv2(self.relu2(self.bn2(self.conv1(act))))
        identity = x if self.shortcut is None else self.shortcut(act)
        return identity + out


@MODELS.register_module()
class WideResNetCifar(StagedBackbone):
    """CIFAR Wide ResNet backbone with MMPretrain's backbone API.

    Stage outputs are the raw outputs of the three groups; the last one is followed by the final
    BN + ReLU (the feature the classifier pools), which is what stage 2 returns. Because the
    network is pre-activation, stages 0 and 1 are "pre-activation" outputs already; stage 2's is
    the input of the final ReLU (``preact_sources``).

    Args:
        depth (int): ``6n + 4`` (16, 28, 40, ...).
        widen_factor (int): Width multiplier k. Defaults to 2.
        in_channels (int): Image channels. Defaults to 3.
        out_indices (Sequence[int]): Stages (0..2) to return. Defaults to (2,).
        init_cfg (list, optional): MMEngine init config.

    Outputs: tuple of (N, C_i, H_i, W_i) with ``C = (16k, 32k, 64k)``, ``H = (32, 16, 8)`` for a
    32x32 input.
    """

    def __init__(self,
                 depth: int = 40,
                 widen_factor: int = 2,
                 in_channels: int = 3,
                 out_indices: Sequence[int] = (2, ),
                 init_cfg: Optional[List[dict]] = None) -> None:
        super().__init__(3, out_indices, init_cfg)
        if (depth - 4) % 6 != 0 or depth < 10:
            raise ValueError(f'WideResNetCifar: `depth` must be 6n + 4, got {depth}')
        n = (depth - 4) // 6
        channels = [16, 16 * widen_factor, 32 * widen_factor, 64 * widen_factor]
        self.stage_channels = tuple(channels[1:])
        self.conv1 = nn.Conv2d(in_channels, channels[0], 3, 1, 1, bias=False)
        cin = channels[0]
        for i, (cout, stride) in enumerate(zip(channels[1:], (1, 2, 2))):
            blocks = [WideBasicBlock(cin if j == 0 else cout, cout, stride if j == 0 else 1)
                      for j in range(n)]
            self.add_module(f'block{i + 1}', nn.Sequential(*blocks))
            cin = cout
        self.bn1 = nn.BatchNorm2d(cin)
        self.relu = nn.ReLU(inplace=True)

    def preact_sources(self) -> List[str]:
        """Modules whose input is each returned stage's pre-activation output."""
        return [('block2', 'block3', 'relu')[i] for i in self.out_indices]

    supports_stagewise = True

    def forward_stage(self, x: Tensor, index: int) -> Tensor:
        """Stage ``index`` alone (0 includes the stem); see ``StagedBackbone.forward_stage``."""
        if index == 0:
            x = self.conv1(x)
        x = getattr(self, f'block{index + 1}')(x)
        if index == 2:
            x = self.relu(self.bn1(x))
        return x

    def forward(self, x: Tensor) -> Tuple[Tensor, ...]:
        """(N, C_in, H, W) -> tuple of stage features."""
        return self.run_stagewise(x, 3)
