"""Turning in-place operations off so recorded tensors are not overwritten."""
from torch import nn


def disable_inplace(model: nn.Module) -> int:
    """Set ``inplace = False`` on every submodule that has a boolean ``inplace`` attribute.

    MMRazor 1.0.0 means to do this in ``BaseAlgorithm.set_module_inplace_false`` but walks
    ``_modules`` expecting an ``OrderedDict``; on torch >= 2.5 it is a plain ``dict`` and the walk
    stops at the root, so ``ReLU(inplace=True)`` overwrites recorded pre-activation features.

    Args:
        model (nn.Module): The model to change in place.

    Returns:
        int: How many modules were switched.
    """
    count = 0
    for module in model.modules():
        if isinstance(getattr(module, 'inplace', None), bool) and module.inplace:
            module.inplace = False
            count += 1
    return count
