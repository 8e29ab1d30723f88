from .frozen_teacher_distill import FrozenTeacherDistill
from .review_kd_distill import ReviewKDDistill
from .tskd_distill import TSKDDistill

__all__ = ['FrozenTeacherDistill', 'ReviewKDDistill', 'TSKDDistill']
