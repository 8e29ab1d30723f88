import pytest
import torch
from mmengine.registry import DefaultScope

from mmreviewkd.models.recorders import StageFeaturesRecorder
from mmreviewkd.registry import MODELS
from mmreviewkd.utils import disable_inplace


def _classifier(backbone):
    with DefaultScope.overwrite_default_scope('mmreviewkd'):
        return MODELS.build(dict(
            _scope_='mmpretrain', type='mmpretrain.ImageClassifier', backbone=backbone,
            neck=dict(type='mmpretrain.GlobalAveragePooling'),
            head=dict(type='mmpretrain.LinearClsHead', num_classes=10, in_channels=64)))


@pytest.fixture
def resnet():
    model = _classifier(dict(type='mmreviewkd.ResNetCifar', depth=8, out_indices=(0, 1, 2)))
    disable_inplace(model)
    return model.eval()


def _record(rec, model, x):
    rec.initialize(model)
    with rec:
        model(x, mode='tensor')
    return rec.get_record_data()


def test_default_records_stages_and_pooled(resnet):
    feats = _record(StageFeaturesRecorder(), resnet, torch.randn(2, 3, 32, 32))
    assert [tuple(f.shape) for f in feats] == [(2, 16, 32, 32), (2, 32, 16, 16), (2, 64, 8, 8),
                                               (2, 64, 1, 1)]
    torch.testing.assert_close(feats[3].flatten(1), feats[2].mean((2, 3)))


def test_preact_stage_indices_and_explicit_sources(resnet):
    x = torch.randn(2, 3, 32, 32)
    pre = _record(StageFeaturesRecorder(preact=True, pooled_source=None), resnet, x)
    post = _record(StageFeaturesRecorder(pooled_source=None), resnet, x)
    for a, b in zip(pre, post):
        assert (a < 0).any()
        torch.testing.assert_close(a.clamp(min=0), b)
    sel = _record(StageFeaturesRecorder(stage_indices=(1, 2)), resnet, x)
    assert [f.shape[1] for f in sel] == [32, 64, 64]
    explicit = _record(StageFeaturesRecorder(
        sources=['backbone.layer1', dict(name='backbone.layer2.0.relu_out', io='inputs')],
        pooled_source=None), resnet, x)
    torch.testing.assert_close(explicit[0], post[0])
    assert (explicit[1] < 0).any()


def test_helpful_errors(resnet):
    with pytest.raises(ValueError, match='not a module'):
        StageFeaturesRecorder(source='backbones').initialize(resnet)
    mm_resnet = _classifier(dict(type='mmpretrain.ResNet', depth=18))
    with pytest.raises(ValueError, match='preact_sources'):
        StageFeaturesRecorder(preact=True).initialize(mm_resnet)
    rec = StageFeaturesRecorder(stage_indices=(5, ))
    with pytest.raises(ValueError, match='stage_indices'):
        _record(rec, resnet, torch.randn(1, 3, 32, 32))
    with pytest.raises(RuntimeError, match='nothing recorded'):
        r = StageFeaturesRecorder()
        r.initialize(resnet)
        r.get_record_data()
