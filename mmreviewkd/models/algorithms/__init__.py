from .review_kd_distill import ReviewKDDistill
from .tskd_distill import TSKDDistill

__all__ = ['ReviewKDDistill', 'TSKDDistill']
