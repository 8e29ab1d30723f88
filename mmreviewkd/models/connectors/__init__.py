from .abf import ABF
from .review_connector import ReviewKDConnector, review_mid_channels

__all__ = ['ABF', 'ReviewKDConnector', 'review_mid_channels']
