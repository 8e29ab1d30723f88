"""VGG with BN for CIFAR as used in the KD literature (VGG8, VGG11, VGG13, VGG16, VGG19).

Five blocks of 3x3 conv + BN (+ ReLU), channels 64/128/256/512/512; max-pool between blocks 0-1,
1-2 and 2-3 (blocks 3 and 4 both run at 4x4 for a 32x32 input). Each block's last ReLU is a
separate module (``relu{i}``) so its input is the block's pre-activation output. Parameter
counts with a 100-way FC: VGG8 3.96M, VGG13 9.46M.
"""
from typing import List, Optional, Sequence, Tuple

from torch import Tensor, nn

from mmreviewkd.registry import MODELS
from .base_backbone import StagedBackbone

ARCH = {
    8: [[64], [128], [256], [512], [512]],
    11: [[64], [128], [256, 256], [512, 512], [512, 512]],
    13: [[64, 64], [128, 128], [256, 256], [512, 512], [512, 512]],
    16: [[64, 64], [128, 128], [256, 256, 256], [512, 512, 512], [512, 512, 512]],
    19: [[64, 64], [128, 128], [256, 256, 256, 256], [512, 512, 512, 512],
         [512, 512, 512, 512]],
}


@MODELS.register_module()
class VGGCifar(StagedBackbone):
    """CIFAR VGG-BN backbone with MMPretrain's backbone API.

    Args:
        depth (int): 8, 11, 13, 16 or 19.
        in_channels (int): Image channels. Defaults to 3.
        out_indices (Sequence[int]): Blocks (0..4) whose (post-ReLU) outputs are returned.
            ReviewKD uses (1, 2, 3, 4). Defaults to (4,).
        init_cfg (list, optional): MMEngine init config.

    Outputs: tuple of (N, C_i, H_i, W_i); for 32x32 inputs ``C = (64, 128, 256, 512, 512)`` and
    ``H = (32, 16, 8, 4, 4)``.
    """

    def __init__(self,
                 depth: int = 13,
                 in_channels: int = 3,
                 out_indices: Sequence[int] = (4, ),
                 init_cfg: Optional[List[dict]] = None) -> None:
        super().__init__(5, out_indices, init_cfg)
        if depth not in ARCH:
            raise ValueError(f'VGGCifar: `depth` must be one of {sorted(ARCH)}, got {depth}')
        self.stage_channels = tuple(block[-1] for block in ARCH[depth])
        cin = in_channels
        for i, block in enumerate(ARCH[depth]):
            layers: List[nn.Module] = []
            for j, cout in enumerate(block):
                layers += [nn.Conv2d(cin, cout, 3, padding=1), nn.BatchNorm2d(cout)]
                if j < len(block) - 1:
                    layers.append(nn.ReLU(inplace=True))
                cin = cout
            self.add_module(f'block{i}', nn.Sequential(*layers))
            self.add_module(f'relu{i}', nn.ReLU(inplace=True))
        self.pool = nn.MaxPool2d(kernel_size=2, stride=2)

    def preact_sources(self) -> List[str]:
        """Modules whose input is each returned block's pre-activation output."""
        return [f'relu{i}' for i in self.out_indices]

    def forward(self, x: Tensor) -> Tuple[Tensor, ...]:
        """(N, C_in, H, W) -> tuple of block features."""
        outs = []
        for i in range(5):
            # pools after blocks 0, 1, 2; block 4 runs at block 3's size unless that is > 4
            # (64x64 inputs), as in the KD literature's CIFAR VGG
            if 1 <= i <= 3 or (i == 4 and x.shape[-1] > 4):
                x = self.pool(x)
            x = getattr(self, f'relu{i}')(getattr(self, f'block{i}')(x))
            if i in self.out_indices:
                outs.append(x)
        return tuple(outs)
