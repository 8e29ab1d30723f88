"""Automatic mixed precision on CPU (``tools/train.py --amp`` without a GPU)."""
from contextlib import contextmanager

import torch
from mmengine.optim import OptimWrapper
from torch import nn

from mmreviewkd.registry import OPTIM_WRAPPERS


@OPTIM_WRAPPERS.register_module()
class CPUAmpOptimWrapper(OptimWrapper):
    """``OptimWrapper`` that runs forward passes under CPU autocast (bfloat16 by default).

    MMEngine's ``AmpOptimWrapper`` asserts a GPU/NPU/MLU/MUSA device. On CPU, bfloat16 autocast
    needs no loss scaling (same exponent range as float32), so this wrapper only adds the
    autocast context; ``tools/train.py --amp`` selects it when no CUDA device is present.

    Args:
        dtype (str | torch.dtype): Autocast dtype, ``'bfloat16'`` (default) or ``'float16'``.
        **kwargs: Arguments of ``OptimWrapper``.
    """

    def __init__(self, dtype='bfloat16', **kwargs) -> None:
        super().__init__(**kwargs)
        self.cast_dtype = getattr(torch, dtype) if isinstance(dtype, str) else dtype

    @contextmanager
    def optim_context(self, model: nn.Module):
        with super().optim_context(model), torch.autocast('cpu', dtype=self.cast_dtype):
            yield
