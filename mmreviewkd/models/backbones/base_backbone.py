"""Shared API of this package's backbones (MMPretrain's backbone conventions)."""
from functools import partial
from typing import Callable, List, Optional, Sequence, Tuple

from mmengine.model import BaseModule
from torch import Tensor


class StagedBackbone(BaseModule):
    """A backbone with ``num_stages`` stages that returns the outputs of ``out_indices``.

    Subclasses set ``self.stage_channels`` (channels of every stage) in ``__init__``.

    Args:
        num_stages (int): Number of selectable stages.
        out_indices (Sequence[int]): Stages to return (negative indices count from the end).
        init_cfg (list, optional): MMEngine init config. Defaults to Kaiming (fan_out, relu)
            for convs and constant 1/0 for BN.
    """

    def __init__(self, num_stages: int, out_indices: Sequence[int],
                 init_cfg: Optional[List[dict]] = None) -> None:
        if init_cfg is None:
            init_cfg = [
                dict(type='Kaiming', layer='Conv2d', mode='fan_out', nonlinearity='relu'),
                dict(type='Constant', val=1, bias=0, layer='BatchNorm2d'),
            ]
        super().__init__(init_cfg=init_cfg)
        out_indices = tuple(out_indices)
        if not out_indices or any(i not in range(-num_stages, num_stages) for i in out_indices):
            raise ValueError(f'{type(self).__name__}: `out_indices` entries must be in '
                             f'0..{num_stages - 1} ({num_stages} stages), got {out_indices}')
        self.out_indices = tuple(i % num_stages for i in out_indices)
        self.stage_channels: Tuple[int, ...] = ()

    def forward_stage(self, x: Tensor, index: int) -> Tensor:
        """Run stage ``index`` alone (stage 0 includes the stem), for stage-wise inference.

        Chaining ``forward_stage`` over 0..num_stages-1 gives the same stage outputs as
        ``forward``. Backbones that support it override this and set ``supports_stagewise``.

        Args:
            x (Tensor): The images (``index == 0``) or the previous stage's output.
            index (int): The stage to run.

        Returns:
            Tensor: The stage's output, (N, C_index, H_index, W_index).
        """
        raise NotImplementedError(f'{type(self).__name__} does not run stage by stage')

    supports_stagewise = False

    def run_stages(self, x: Tensor,
                   stages: Sequence[Callable[[Tensor], Tensor]]) -> Tuple[Tensor, Tuple]:
        """Run ``stages`` in order and collect the outputs of those in ``out_indices``.

        Returns:
            tuple: the last stage's output and the tuple of collected outputs.
        """
        outs = []
        for i, stage in enumerate(stages):
            x = stage(x)
            if i in self.out_indices:
                outs.append(x)
        return x, tuple(outs)

    def run_stagewise(self, x: Tensor, num_stages: int) -> Tuple[Tensor, ...]:
        """The outputs of ``out_indices``, chaining :meth:`forward_stage` over ``num_stages``
        stages: the ``forward`` of backbones that run stage by stage, so the stage-wise and the
        whole-network paths are one code path."""
        return self.run_stages(x, [partial(self.forward_stage, index=i)
                                   for i in range(num_stages)])[1]

    @property
    def out_channels(self) -> Tuple[int, ...]:
        """Channels of the returned feature maps, in ``out_indices`` order."""
        return tuple(self.stage_channels[i] for i in self.out_indices)
