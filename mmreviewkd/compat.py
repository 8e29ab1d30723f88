"""Fixes that make the pinned OpenMMLab stack (MMEngine 0.10.7, MMCV 2.1.0, MMPretrain 1.2.0,
MMDet 3.3.0, MMRazor 1.0.0) work on current torch (tested: 2.14.1).

Everything lives here, applied once by ``import mmreviewkd`` (which imports this module before
anything imports MMRazor). Each fix says which upstream version breaks and why, and each has a
test that fails without it. :func:`applied_fixes` lists the ones applied in this process.
"""
import sys
import types
from typing import Any, List

import torch
from packaging.version import Version

_APPLIED: List[str] = []


def applied_fixes() -> List[str]:
    """Names of the fixes applied in this process."""
    return list(_APPLIED)


# ---------------------------------------------------------------------------------------------
# 1. MMRazor 1.0.0 quantization backend configs.
#
# `mmrazor.structures.quantization.backend_config.mapping` builds every backend config at import
# time (``get_native_backend_config()`` and friends) with torch.ao APIs whose signatures changed
# after torch 1.13/2.0, so importing `mmrazor.structures` (and with it `mmrazor.models`) raises on
# torch 2.x. Distillation never uses them. We pre-register a placeholder module under that name:
# MMRazor imports fine, and anything that asks for a quantization backend gets a clear error.
QUANT_MODULE = 'mmrazor.structures.quantization.backend_config'
QUANT_NAMES = (
    'BackendConfigs', 'get_native_backend_config', 'get_native_backend_config_dict',
    'get_academic_backend_config', 'get_academic_backend_config_dict',
    'get_openvino_backend_config', 'get_openvino_backend_config_dict',
    'get_tensorrt_backend_config', 'get_tensorrt_backend_config_dict')


class QuantizationUnavailableError(RuntimeError):
    """Raised when MMRazor's quantization is used on a torch it does not support."""


class _QuantizationUnavailable:
    """Stands in for a name of MMRazor's quantization backend configs."""

    def __init__(self, name: str) -> None:
        self._name = name

    def _fail(self, *args: Any, **kwargs: Any) -> Any:
        raise QuantizationUnavailableError(
            f'MMRazor 1.0.0 quantization (`{self._name}`) does not work with torch '
            f'{torch.__version__}: its backend configs use torch.ao APIs that changed after '
            'torch 2.0. mmreviewkd supports distillation only; use torch<=1.13 with MMRazor for '
            'quantization.')

    __call__ = _fail
    __getitem__ = _fail
    __iter__ = _fail

    def __getattr__(self, item: str) -> Any:
        if item.startswith('__'):
            raise AttributeError(item)
        self._fail()

    def __repr__(self) -> str:
        return f'<unavailable MMRazor quantization object {self._name}>'


def _quant_backend_config_broken() -> bool:
    """Whether this torch lacks the torch.ao backend-config API MMRazor 1.0.0 was written for."""
    try:
        from torch.ao.quantization.backend_config import BackendConfig  # noqa: F401
        from torch.ao.quantization.fuser_method_mappings import reverse2  # noqa: F401
    except Exception:
        return True
    return Version(torch.__version__.split('+')[0]) >= Version('2')


def _fix_mmrazor_quantization() -> None:
    if QUANT_MODULE in sys.modules or 'mmrazor.structures' in sys.modules:
        return
    if not _quant_backend_config_broken():
        return
    placeholder = types.ModuleType(QUANT_MODULE)
    placeholder.__doc__ = 'Placeholder installed by mmreviewkd.compat (see there).'
    placeholder.__all__ = list(QUANT_NAMES)
    for name in QUANT_NAMES:
        setattr(placeholder, name, _QuantizationUnavailable(name))
    sys.modules[QUANT_MODULE] = placeholder
    _APPLIED.append('mmrazor_quantization_placeholder')


# ---------------------------------------------------------------------------------------------
# 2. MMEngine 0.10.7 checkpoints under torch >= 2.6 weights-only loading.
#
# torch 2.6 made `torch.load(weights_only=True)` the default. MMEngine 0.10.7 calls `torch.load`
# without `weights_only`, and its checkpoints carry the MessageHub state (`HistoryBuffer`
# objects holding numpy arrays), so loading/resuming fails with "Weights only load failed".
# We keep weights-only loading on and allow-list exactly the types MMEngine (and this package)
# write; any other pickled object is still refused.
def safe_checkpoint_globals() -> list:
    """The classes/functions a checkpoint of MMEngine or mmreviewkd may contain."""
    import numpy as np
    from mmengine.logging.history_buffer import HistoryBuffer
    allowed: list = [HistoryBuffer, np.ndarray, np.dtype]
    try:  # numpy >= 2
        from numpy._core.multiarray import _reconstruct, scalar
    except ImportError:  # numpy 1.x
        from numpy.core.multiarray import _reconstruct, scalar
    allowed += [_reconstruct, scalar]
    # numpy >= 1.25 pickles dtypes as instances of their `numpy.dtypes.*DType` classes
    dtypes = getattr(np, 'dtypes', None)
    if dtypes is not None:
        allowed += [getattr(dtypes, n) for n in dir(dtypes) if n.endswith('DType')]
    return allowed


def _history_buffer_getattr(obj: Any, name: str) -> Any:
    """A stand-in for ``builtins.getattr`` inside weights-only checkpoints.

    ``HistoryBuffer`` instances pickle their statistics methods as
    ``getattr(HistoryBuffer, 'min')`` & co. Allowing the real ``getattr`` would let a checkpoint
    reach any attribute of any allowed object; this one only resolves registered
    ``HistoryBuffer`` statistics methods and refuses everything else.
    """
    import pickle

    from mmengine.logging.history_buffer import HistoryBuffer
    # the built-in statistics are registered lazily (first HistoryBuffer()); custom ones through
    # HistoryBuffer.register_statistics
    allowed = {'min', 'max', 'current', 'mean'} | set(HistoryBuffer._statistics_methods)
    if obj is HistoryBuffer and name in allowed:
        return getattr(HistoryBuffer, name)
    raise pickle.UnpicklingError(
        f'checkpoint asks for getattr({obj!r}, {name!r}); only HistoryBuffer statistics '
        'methods are allowed in weights-only loading')


def _fix_weights_only_checkpoints() -> None:
    add = getattr(torch.serialization, 'add_safe_globals', None)
    if add is None:  # torch < 2.4: no weights-only default, nothing to do
        return
    add(safe_checkpoint_globals() + [(_history_buffer_getattr, 'builtins.getattr')])
    _APPLIED.append('weights_only_allowlist')


# ---------------------------------------------------------------------------------------------
# 3. MMRazor 1.0.0 `BaseAlgorithm.set_module_inplace_false` on torch >= 2.5.
#
# It walks `module._modules` expecting an `OrderedDict`; since torch 2.5 that is a plain `dict`,
# so the walk stops at the root and ReLU(inplace=True) layers stay in-place. Recorded
# pre-activation features then come out already ReLU'd. We replace the walk with one over
# `module.modules()`; algorithms of this package also do it themselves.
def _fix_mmrazor_inplace_walk() -> None:
    from mmrazor.models.algorithms.base import BaseAlgorithm

    from mmreviewkd.utils.inplace import disable_inplace
    if getattr(BaseAlgorithm.set_module_inplace_false, '_mmreviewkd_fixed', False):
        return

    def set_module_inplace_false(self, architecture, varstr: str) -> None:
        if isinstance(architecture, torch.nn.Module):
            disable_inplace(architecture)

    set_module_inplace_false._mmreviewkd_fixed = True
    set_module_inplace_false._original = BaseAlgorithm.set_module_inplace_false
    BaseAlgorithm.set_module_inplace_false = set_module_inplace_false
    _APPLIED.append('mmrazor_inplace_walk')


# ---------------------------------------------------------------------------------------------
# 4. MMEngine 0.10.7 writes checkpoints in place.
#
# `save_checkpoint` serialises into memory, then `LocalBackend.put` opens the final path and
# writes: an interruption (kill, full disk) leaves a truncated `epoch_N.pth`. We write local
# checkpoints to `<name>.tmp` and rename it over the final name (atomic on POSIX), so a
# checkpoint file is either complete or absent, and `last_checkpoint` (written after the save)
# never points at a partial file.
def _fix_atomic_checkpoint_save() -> None:
    import os
    import os.path as osp

    import mmengine.runner.checkpoint as ckpt_mod
    import mmengine.runner.runner as runner_mod
    original = ckpt_mod.save_checkpoint
    if getattr(original, '_mmreviewkd_fixed', False):
        return

    def save_checkpoint(checkpoint, filename, file_client_args=None, backend_args=None):
        is_local = '://' not in str(filename) and file_client_args is None and not backend_args
        if not is_local:
            return original(checkpoint, filename, file_client_args, backend_args)
        os.makedirs(osp.dirname(osp.abspath(filename)), exist_ok=True)
        tmp = f'{filename}.tmp'
        try:
            with open(tmp, 'wb') as f:
                torch.save(checkpoint, f)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, filename)
        finally:
            if osp.exists(tmp):
                os.remove(tmp)

    save_checkpoint._mmreviewkd_fixed = True
    save_checkpoint._original = original
    ckpt_mod.save_checkpoint = save_checkpoint
    runner_mod.save_checkpoint = save_checkpoint
    _APPLIED.append('atomic_checkpoint_save')


# ---------------------------------------------------------------------------------------------
# 5. MMEngine 0.10.7 distributed init on CPU.
#
# `_init_dist_pytorch` calls `torch.cuda.set_device(local_rank)` unconditionally, which raises
# "Found no NVIDIA driver" on CPU machines, so `--launcher pytorch` (torchrun, gloo) could not
# start. Without CUDA we only skip that call.
def _fix_cpu_distributed_init() -> None:
    import mmengine.dist.utils as dist_utils
    original = dist_utils._init_dist_pytorch
    if getattr(original, '_mmreviewkd_fixed', False):
        return

    def _init_dist_pytorch(backend, init_backend='torch', **kwargs) -> None:
        if torch.cuda.is_available():
            return original(backend, init_backend=init_backend, **kwargs)
        if backend == 'nccl':
            backend = 'gloo'  # nccl needs GPUs
        torch.distributed.init_process_group(backend=backend, **kwargs)

    _init_dist_pytorch._mmreviewkd_fixed = True
    dist_utils._init_dist_pytorch = _init_dist_pytorch
    _APPLIED.append('cpu_distributed_init')


# ---------------------------------------------------------------------------------------------
_DONE = False


def apply() -> None:
    """Apply every fix once (idempotent). Called by ``import mmreviewkd``."""
    global _DONE
    if _DONE:
        return
    _DONE = True
    _fix_mmrazor_quantization()
    _fix_weights_only_checkpoints()
    _fix_mmrazor_inplace_walk()
    _fix_atomic_checkpoint_save()
    _fix_cpu_distributed_init()
