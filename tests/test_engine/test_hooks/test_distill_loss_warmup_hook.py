from types import SimpleNamespace

import pytest
from mmengine.logging import MessageHub
from torch import nn

from mmreviewkd.engine.hooks import DistillLossWarmupHook
from mmreviewkd.models.losses import HCLLoss


def _runner(epoch=0, it=0):
    model = nn.Module()
    model.distiller = nn.Module()
    model.distiller.distill_losses = nn.ModuleDict(dict(loss_hcl=HCLLoss(loss_weight=0.6)))
    return SimpleNamespace(model=model, epoch=epoch, iter=it,
                           message_hub=MessageHub.get_instance('warmup-test'))


@pytest.mark.parametrize('epoch,factor', [(0, 1 / 20), (9, 10 / 20), (19, 1.0), (100, 1.0)])
def test_linear_by_epoch_like_the_official_code(epoch, factor):
    runner = _runner(epoch=epoch)
    hook = DistillLossWarmupHook(warmup=20)
    hook.before_train(runner)
    hook.before_train_iter(runner, 0)
    assert runner.model.distiller.distill_losses['loss_hcl'].loss_weight == pytest.approx(
        0.6 * factor)
    hook.after_train(runner)
    assert runner.model.distiller.distill_losses['loss_hcl'].loss_weight == pytest.approx(0.6)


def test_by_iter_and_disabled():
    runner = _runner(it=49)
    hook = DistillLossWarmupHook(warmup=100, by_epoch=False)
    hook.before_train_iter(runner, 0)
    assert runner.model.distiller.distill_losses['loss_hcl'].loss_weight == pytest.approx(0.3)
    assert DistillLossWarmupHook(warmup=0).factor(runner) == 1.0


def test_unknown_loss_name_is_reported():
    hook = DistillLossWarmupHook(loss_names=['loss_nope'])
    with pytest.raises(ValueError, match='loss_nope'):
        hook.before_train(_runner())
    with pytest.raises(ValueError):
        DistillLossWarmupHook(warmup=-1)
