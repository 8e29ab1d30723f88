"""Cloning of recorded tensors (inference-mode teacher outputs -> tensors autograd may save)."""
from typing import Any

from torch import Tensor
from torch.utils._pytree import tree_map


def clone_tensors(data: Any) -> Any:
    """Clone every tensor of a (nested list/tuple/dict) record; other values are kept."""
    return tree_map(lambda x: x.clone() if isinstance(x, Tensor) else x, data)
