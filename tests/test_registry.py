"""One config builds MMPretrain, MMDet, MMRazor and mmreviewkd types through the registry."""
import pytest
from mmengine.config import Config
from mmengine.registry import DefaultScope
from mmengine.registry import MODELS as ROOT_MODELS

from mmreviewkd.registry import HOOKS, MODELS, TASK_UTILS

CFG = """
default_scope = 'mmreviewkd'
models = dict(
    review=dict(type='ReviewKDConnector', in_channels=[8], out_channels=[8]),
    hcl=dict(type='mmreviewkd.HCLLoss'),
    kl=dict(type='KLDivergence', tau=4),             # MMRazor, unprefixed (parent scope)
    kl2=dict(type='mmrazor.KLDivergence'),
    cls=dict(type='mmpretrain.ResNet', depth=18),
    det_neck=dict(type='mmdet.FPN', in_channels=[8, 16], out_channels=8, num_outs=2),
    det_loss=dict(type='mmdet.FocalLoss'),
)
"""


def _build_all(scope):
    cfg = Config.fromstring(CFG, '.py')
    with DefaultScope.overwrite_default_scope(scope):
        return {k: ROOT_MODELS.build(v) for k, v in cfg.models.items()
                if scope == 'mmreviewkd' or '.' in v['type']}


def test_default_scope_mmreviewkd_builds_every_package():
    built = _build_all('mmreviewkd')
    assert type(built['review']).__module__.startswith('mmreviewkd.')
    assert type(built['hcl']).__module__.startswith('mmreviewkd.')
    assert type(built['kl']).__module__.startswith('mmrazor.')
    assert type(built['cls']).__module__.startswith('mmpretrain.')
    assert type(built['det_neck']).__module__.startswith('mmdet.')
    assert type(built['det_loss']).__module__.startswith('mmdet.')


@pytest.mark.parametrize('scope', ['mmpretrain', 'mmdet', 'mmrazor'])
def test_prefixed_types_resolve_from_other_scopes(scope):
    built = _build_all(scope)
    assert type(built['hcl']).__name__ == 'HCLLoss'
    assert type(built['cls']).__name__ == 'ResNet'


def test_registries_are_children_of_mmrazor():
    from mmrazor.registry import MODELS as RAZOR_MODELS
    assert MODELS.parent is RAZOR_MODELS and MODELS.scope == 'mmreviewkd'
    assert 'StageFeaturesRecorder' in TASK_UTILS.module_dict or \
        TASK_UTILS.get('StageFeaturesRecorder') is not None
    assert HOOKS.get('DistillLossWarmupHook').__name__ == 'DistillLossWarmupHook'
    assert HOOKS.get('CheckpointHook') is not None  # MMEngine's, through the parents
