from .checkpoint import load_teacher_checkpoint
from .clone import clone_tensors
from .inplace import disable_inplace

__all__ = ['clone_tensors', 'disable_inplace', 'load_teacher_checkpoint']
