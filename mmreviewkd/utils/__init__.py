from .checkpoint import load_teacher_checkpoint
from .clone import clone_tensors
from .cpu_allocator import keep_freed_memory
from .cpu_bf16 import cpu_has_native_bf16
from .inplace import disable_inplace
from .mmcv_ops import MMCVOpsMissingError, check_mmcv_ops_for_config, mmcv_ops_available

__all__ = [
    'MMCVOpsMissingError', 'check_mmcv_ops_for_config', 'clone_tensors', 'cpu_has_native_bf16',
    'disable_inplace', 'keep_freed_memory', 'load_teacher_checkpoint', 'mmcv_ops_available'
]
