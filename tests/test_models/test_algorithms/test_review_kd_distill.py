import copy

import pytest
import torch
from mmengine.registry import DefaultScope
from mmpretrain.structures import DataSample

from mmreviewkd.registry import MODELS


def classifier(depth, out_indices=(0, 1, 2), in_channels=3, num_classes=10, width=1):
    return dict(
        _scope_='mmpretrain',
        type='mmpretrain.ImageClassifier',
        backbone=dict(type='mmreviewkd.ResNetCifar', depth=depth, width=width,
                      in_channels=in_channels, out_indices=out_indices),
        neck=dict(type='mmpretrain.GlobalAveragePooling'),
        head=dict(type='mmpretrain.LinearClsHead', num_classes=num_classes,
                  in_channels=64 * width, loss=dict(type='mmpretrain.CrossEntropyLoss')))


@pytest.fixture(scope='module')
def reviewkd(review_distiller_cfg):
    """Factory ``reviewkd(student, teacher, preact=True, weight=1.0, input_shape=(3, 32, 32),
    **kwargs) -> dict``: a ReviewKDDistill config."""
    def make(student, teacher, preact=True, weight=1.0, input_shape=(3, 32, 32), **kwargs):
        return dict(
            type='ReviewKDDistill',
            architecture=student,
            teacher=teacher,
            input_shape=input_shape,
            distiller=review_distiller_cfg(weight, preact),
            **kwargs)
    return make


def build(cfg):
    with DefaultScope.overwrite_default_scope('mmreviewkd'):
        return MODELS.build(copy.deepcopy(cfg))


def batch(n=4, c=3, hw=32, num_classes=10):
    x = torch.randn(n, c, hw, hw)
    samples = [DataSample().set_gt_label(i % num_classes) for i in range(n)]
    return x, samples


@pytest.fixture(scope='module')
def algo(reviewkd):
    torch.manual_seed(0)
    return build(reviewkd(classifier(8), classifier(14)))


def test_shapes_inferred_and_chain_built(algo):
    conn = algo.distiller.connectors['review']
    expected = [(16, 32, 32), (32, 16, 16), (64, 8, 8), (64, 1, 1)]
    assert algo.feature_shapes['review'] == dict(student=expected, teacher=expected)
    assert [a.in_channels for a in conn.abfs] == [16, 32, 64, 64]
    assert conn.mid_channels == 64 and conn.teacher_sizes == [None] * 4  # same sizes: no resize


def test_one_training_step_gradients_and_frozen_teacher(algo):
    algo.train()
    assert not algo.teacher.training
    assert all(not m.training for m in algo.teacher.modules())
    calls = []
    hooks = [a.register_forward_hook(lambda *a: calls.append(1))
             for a in algo.distiller.connectors['review'].abfs]
    x, samples = batch()
    losses = algo.loss(x, samples)
    for h in hooks:
        h.remove()
    assert len(calls) == 4  # every ABF runs exactly once per step
    assert set(losses) == {'student.loss', 'distill.loss_hcl'}
    assert losses['distill.loss_hcl'] > 0
    total = losses['student.loss'] + losses['distill.loss_hcl']
    algo.zero_grad()
    total.backward()
    for name, p in algo.student.named_parameters():
        assert p.grad is not None and p.grad.abs().sum() > 0, name
    for name, p in algo.distiller.connectors.named_parameters():
        assert p.grad is not None and p.grad.abs().sum() > 0, name
    for name, p in algo.teacher.named_parameters():
        assert not p.requires_grad and p.grad is None, name


def test_teacher_preact_features_are_recorded_before_relu(algo):
    algo.train()
    x, samples = batch()
    algo.loss(x, samples)
    t_feats = algo.distiller.teacher_recorders.get_recorder('feats').get_record_data()
    s_feats = algo.distiller.student_recorders.get_recorder('feats').get_record_data()
    # teacher stages pre-ReLU (official CIFAR behaviour), student stages post-ReLU
    assert all((t < 0).any() for t in t_feats[:3])
    assert all((s >= 0).all() for s in s_feats)
    # the teacher's pooled feature is the ordinary (post-ReLU) pooled vector
    assert (t_feats[3] >= 0).all() and t_feats[3].shape == (4, 64, 1, 1)


def test_preact_false_gives_post_activation_teacher(reviewkd):
    algo = build(reviewkd(classifier(8), classifier(14), preact=False))
    algo.loss(*batch())
    t_feats = algo.distiller.teacher_recorders.get_recorder('feats').get_record_data()
    assert all((t >= 0).all() for t in t_feats)


def test_stage_count_mismatch_fails_at_build_time_naming_keys(reviewkd):
    with pytest.raises(ValueError, match='out_indices') as err:
        build(reviewkd(classifier(8, out_indices=(1, 2)), classifier(14)))
    assert 'model.distiller.connectors.review' in str(err.value)


def test_wrong_input_shape_is_reported(reviewkd):
    with pytest.raises(ValueError, match='input_shape'):
        build(reviewkd(classifier(8, in_channels=1), classifier(14, in_channels=1)))


def test_explicit_channels_override_and_are_checked(reviewkd):
    cfg = reviewkd(classifier(8), classifier(14))
    cfg['distiller']['connectors']['review'].update(in_channels=[16, 32, 64, 64],
                                                    out_channels=[16, 32, 64, 32])
    with pytest.raises(ValueError, match='out_channels'):
        build(cfg)


def test_non_finite_loss_stops_training_naming_the_loss(reviewkd):
    algo = build(reviewkd(classifier(8), classifier(14)))
    x, samples = batch()
    algo.teacher.backbone.conv1.weight.data.fill_(float('inf'))  # only the HCL term breaks
    with pytest.raises(FloatingPointError, match='distill.loss_hcl'):
        algo.loss(x, samples)


def test_nan_batch_leaves_weights_buffers_and_optimizer_bitwise_unchanged(
        assert_nan_batch_leaves_model_untouched, reviewkd):
    torch.manual_seed(0)
    algo = build(reviewkd(classifier(8), classifier(14)))
    assert_nan_batch_leaves_model_untouched(algo, *batch())


def test_predict_uses_the_student(algo):
    algo.eval()
    x, samples = batch()
    out = algo(x, samples, mode='predict')
    ref = algo.student(x, batch()[1], mode='predict')
    torch.testing.assert_close(torch.stack([o.pred_score for o in out]),
                               torch.stack([o.pred_score for o in ref]))


def test_resnet34_to_resnet18_at_224(reviewkd):
    def mmpretrain_resnet(depth):
        return dict(
            _scope_='mmpretrain',
            type='mmpretrain.ImageClassifier',
            backbone=dict(type='mmpretrain.ResNet', depth=depth, out_indices=(0, 1, 2, 3)),
            neck=dict(type='mmpretrain.GlobalAveragePooling'),
            head=dict(type='mmpretrain.LinearClsHead', num_classes=1000, in_channels=512))
    algo = build(reviewkd(mmpretrain_resnet(18), mmpretrain_resnet(34), preact=False,
                          input_shape=(3, 224, 224)))
    expected = [(64, 56, 56), (128, 28, 28), (256, 14, 14), (512, 7, 7), (512, 1, 1)]
    assert algo.feature_shapes['review']['teacher'] == expected
    conn = algo.distiller.connectors['review']
    assert conn.mid_channels == 512
    feats = [torch.randn(2, *s) for s in expected]
    assert [tuple(o.shape[1:]) for o in conn(feats)] == expected


def test_training_batch_of_one_image_trains(algo):
    """MMEngine's drop_last=False gives a last batch of one image (e.g. 5 images at batch 4);
    the pooled 1x1 level then has one value per channel in the ABF's BatchNorm."""
    algo.train()
    abf = algo.distiller.connectors['review'].abfs[-1]
    stats = abf.conv1[1].running_mean.clone()
    losses = algo.loss(*batch(n=1))
    sum(losses.values()).backward()
    assert all(torch.isfinite(v) for v in losses.values())
    assert abf.conv1[0].weight.grad is not None
    assert torch.equal(abf.conv1[1].running_mean, stats)  # no statistics from one value
    algo.zero_grad()


def test_teacher_sizes_follow_the_input_size_at_run_time(reviewkd):
    """CIFAR ResNet teacher (maps 32/16/8 at 32x32) and an MMPretrain ResNet-18 student (maps
    8/4/2): built at 32x32, trained at 40x40 and 64x64 (multi-scale, random-resized crops)."""
    student = dict(
        _scope_='mmpretrain', type='mmpretrain.ImageClassifier',
        backbone=dict(type='mmpretrain.ResNet', depth=18, out_indices=(0, 1, 2)),
        neck=dict(type='mmpretrain.GlobalAveragePooling'),
        head=dict(type='mmpretrain.LinearClsHead', num_classes=10, in_channels=256))
    algo = build(reviewkd(student, classifier(8)))
    assert algo.feature_shapes['review']['student'][0] == (64, 8, 8)
    algo.train()
    for hw in (40, 64):
        losses = algo.loss(*batch(n=2, hw=hw))
        assert torch.isfinite(losses['distill.loss_hcl']), hw
