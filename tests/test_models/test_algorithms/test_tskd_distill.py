import copy

import pytest
import torch
from mmengine.registry import DefaultScope
from mmpretrain.structures import DataSample

from mmreviewkd.registry import MODELS


@pytest.fixture(scope='module')
def tskd(classifier_cfg, review_distiller_cfg):
    """Factory: TSKD (R14 -> multi-exit R8), optionally with ReviewKD's feature loss."""
    def make(with_review=False, **kwargs):
        cfg = dict(type='TSKDDistill', architecture=classifier_cfg(8, True),
                   teacher=classifier_cfg(14), input_shape=(3, 32, 32), **kwargs)
        if with_review:
            cfg['distiller'] = review_distiller_cfg(0.6)
        with DefaultScope.overwrite_default_scope('mmreviewkd'):
            return MODELS.build(copy.deepcopy(cfg))
    return make


def batch(n=4):
    return torch.randn(n, 3, 32, 32), [DataSample().set_gt_label(i % 10) for i in range(n)]


@pytest.mark.parametrize('with_review', [False, True])
def test_training_step_terms_and_gradients(tskd, with_review):
    torch.manual_seed(0)
    algo = tskd(with_review)
    algo.train()
    assert not algo.teacher.training
    losses = algo.loss(*batch())
    expected = {f'tskd.loss_{t}_exit{k}' for t in ('ce', 'kd') for k in (1, 2, 3)}
    expected |= {f'tskd.loss_{t}_exit{k}' for t in ('sd', 'feat') for k in (1, 2)}
    if with_review:
        expected.add('distill.loss_hcl')
    assert set(losses) == expected
    sum(losses.values()).backward()
    for name, p in algo.student.named_parameters():
        assert p.grad is not None, name
    assert all(p.grad is None for p in algo.teacher.parameters())


def test_predict_returns_the_vote_with_every_exit(tskd):
    algo = tskd()
    algo.eval()
    out = algo(*batch(2), mode='predict')
    assert out[0].exit_scores.shape == (3, 10)
    torch.testing.assert_close(out[0].pred_score, out[0].exit_scores.mean(0))


def test_plain_classifier_student_is_refused(classifier_cfg):
    with pytest.raises(TypeError, match='MultiExitClassifier'):
        with DefaultScope.overwrite_default_scope('mmreviewkd'):
            MODELS.build(dict(type='TSKDDistill', architecture=classifier_cfg(8),
                              teacher=classifier_cfg(14)))


def test_nan_batch_leaves_weights_buffers_and_optimizer_bitwise_unchanged(
        tskd, assert_nan_batch_leaves_model_untouched):
    torch.manual_seed(0)
    assert_nan_batch_leaves_model_untouched(tskd(with_review=True), *batch())


@pytest.mark.parametrize('key,value', [('teacher_trainable', True),
                                       ('calculate_student_loss', False),
                                       ('student_trainable', False)])
def test_options_tskd_cannot_honour_are_refused(tskd, key, value):
    with pytest.raises(ValueError, match=f'model.{key}=.*not supported by TSKDDistill'):
        tskd(**{key: value})
