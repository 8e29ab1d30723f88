from .checkpoint import load_teacher_checkpoint
from .inplace import disable_inplace

__all__ = ['disable_inplace', 'load_teacher_checkpoint']
