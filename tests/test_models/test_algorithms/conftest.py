"""Model configs shared by the algorithm tests."""
import pytest


def cifar_classifier(depth: int, multi_exit: bool = False) -> dict:
    """A CIFAR ResNet classifier config (10 classes, 3 stages recorded; optionally multi-exit)."""
    cfg = dict(
        _scope_='mmpretrain', type='ImageClassifier',
        backbone=dict(type='mmreviewkd.ResNetCifar', depth=depth, out_indices=(0, 1, 2)),
        neck=dict(type='GlobalAveragePooling'),
        head=dict(type='LinearClsHead', num_classes=10, in_channels=64))
    if multi_exit:
        cfg.update(type='mmreviewkd.MultiExitClassifier', input_shape=(3, 32, 32))
    return cfg


@pytest.fixture(scope='session')
def classifier_cfg():
    """Factory ``classifier_cfg(depth, multi_exit=False) -> dict``."""
    return cifar_classifier
