from .checkpoint import load_teacher_checkpoint
from .clone import clone_tensors
from .inplace import disable_inplace
from .mmcv_ops import MMCVOpsMissingError, check_mmcv_ops_for_config, mmcv_ops_available

__all__ = [
    'MMCVOpsMissingError', 'check_mmcv_ops_for_config', 'clone_tensors', 'disable_inplace',
    'load_teacher_checkpoint', 'mmcv_ops_available'
]
