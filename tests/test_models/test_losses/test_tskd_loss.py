import math

import pytest
import torch

from mmreviewkd.models.losses import TSKDLoss, kd_kl


def test_kd_kl_hand_computed():
    # p_t = (0.75, 0.25), p_s = (0.5, 0.5), T = 1
    expected = 0.75 * math.log(1.5) + 0.25 * math.log(0.5)
    t = torch.tensor([[math.log(3.0), 0.0]])
    assert kd_kl(torch.zeros(1, 2), t, 1.0).item() == pytest.approx(expected, rel=1e-5)
    # temperature: logits scaled by T give the same distributions, times T^2
    assert kd_kl(torch.zeros(1, 2), 2 * t, 2.0).item() == pytest.approx(4 * expected, rel=1e-5)


def test_every_term_hand_computed():
    loss = TSKDLoss(temperature=1.0, ce_weight=0.7, teacher_kd_weight=0.3, self_kd_weight=0.2,
                    feature_weight=0.03)
    shallow = torch.zeros(1, 2)
    deep = torch.tensor([[math.log(3.0), 0.0]])
    teacher = torch.tensor([[0.0, math.log(3.0)]])
    feats = [torch.tensor([[1.0, 2.0]]), torch.zeros(1, 2)]
    out = loss([shallow, deep], feats, torch.tensor([0]), teacher)
    kl_uniform = 0.75 * math.log(1.5) + 0.25 * math.log(0.5)  # KL((.75,.25) || (.5,.5))
    assert out['loss_ce_exit1'].item() == pytest.approx(0.7 * math.log(2), rel=1e-5)
    assert out['loss_ce_exit2'].item() == pytest.approx(0.7 * -math.log(0.75), rel=1e-5)
    assert out['loss_kd_exit1'].item() == pytest.approx(0.3 * kl_uniform, rel=1e-5)
    # KL((.25,.75) || (.75,.25)) = .25 ln(1/3) + .75 ln 3 = 0.5 ln 3
    assert out['loss_kd_exit2'].item() == pytest.approx(0.3 * 0.5 * math.log(3), rel=1e-5)
    assert out['loss_sd_exit1'].item() == pytest.approx(0.2 * kl_uniform, rel=1e-5)
    assert out['loss_feat_exit1'].item() == pytest.approx(0.03 * 2.5, rel=1e-5)
    assert 'loss_sd_exit2' not in out and 'loss_feat_exit2' not in out
    # without a teacher (BYOT) the teacher terms disappear
    assert not any('kd' in k for k in loss([shallow, deep], feats, torch.tensor([0])))


def test_no_self_distillation_gradient_into_the_deepest_exit():
    loss = TSKDLoss()
    shallow = torch.randn(4, 5, requires_grad=True)
    deep = torch.randn(4, 5, requires_grad=True)
    f_shallow, f_deep = torch.randn(4, 8, requires_grad=True), torch.randn(4, 8, requires_grad=True)
    out = loss([shallow, deep], [f_shallow, f_deep], torch.arange(4) % 5)
    (out['loss_sd_exit1'] + out['loss_feat_exit1']).backward()
    assert deep.grad is None and f_deep.grad is None
    assert shallow.grad.abs().sum() > 0 and f_shallow.grad.abs().sum() > 0


def test_bad_weights():
    with pytest.raises(ValueError, match='temperature'):
        TSKDLoss(temperature=0)
    with pytest.raises(ValueError, match='feature_weight'):
        TSKDLoss(feature_weight=-1)
