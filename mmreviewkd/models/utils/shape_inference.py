"""Feature shapes from a dry forward at build time (one helper for every model that needs them)."""
from typing import Any, Callable, List, Sequence, Tuple

import torch
from torch import Tensor, nn

ShapeList = List[Tuple[int, ...]]


def record_shapes(record: Any) -> ShapeList:
    """(C, H, W) (everything after the batch dimension) of a tensor or a list of tensors."""
    items = record if isinstance(record, (list, tuple)) else [record]
    return [tuple(int(d) for d in t.shape[1:]) for t in items]


@torch.no_grad()
def dry_forward(models: Sequence[nn.Module], input_shape: Sequence[int],
                run: Callable[[Tensor], Any], key: str = 'model.input_shape') -> Any:
    """Run ``run`` on a zero batch of two ``input_shape`` images with ``models`` in eval mode
    (their train/eval modes are restored afterwards).

    Args:
        models (Sequence[nn.Module]): The modules ``run`` uses (switched to eval for the call).
        input_shape (Sequence[int]): (C, H, W) of the dummy input.
        run (Callable): ``run(x)`` with ``x`` of shape (2, C, H, W); its return value is returned.
        key (str): The config key of ``input_shape``, for the error message.

    Raises:
        ValueError: naming ``key`` when the forward fails (e.g. wrong channel count).
    """
    modes = [m.training for m in models]
    for m in models:
        m.eval()
    try:
        return run(torch.zeros(2, *input_shape))
    except RuntimeError as e:
        raise ValueError(
            f'{key}={tuple(input_shape)}: the dry forward used to infer feature shapes failed '
            f'({e}). Set `input_shape` to the (C, H, W) your data pipeline produces.') from e
    finally:
        for m, mode in zip(models, modes):
            m.train(mode)
