from .review_kd_distill import ReviewKDDistill

__all__ = ['ReviewKDDistill']
