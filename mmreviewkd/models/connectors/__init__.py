from .abf import ABF
from .review_connector import ReviewKDConnector, review_mid_channels
from .shape_aware_connector import ShapeAwareConnector

__all__ = ['ABF', 'ReviewKDConnector', 'ShapeAwareConnector', 'review_mid_channels']
