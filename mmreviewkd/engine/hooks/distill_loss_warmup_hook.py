"""Linear warm-up of distillation loss weights, driven by the runner's epoch/iteration."""
from typing import Dict, Optional, Sequence

from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper

from mmreviewkd.registry import HOOKS


@HOOKS.register_module()
class DistillLossWarmupHook(Hook):
    """Scale distillation losses by ``min(1, (t + 1) / warmup)`` where ``t`` is the 0-based epoch
    (``by_epoch=True``) or iteration read from the runner.

    With epochs counted from 1 this is the official ReviewKD CIFAR warm-up
    ``min(1, epoch / 20)``. The factor is recomputed before every iteration from the runner's
    state, so resuming needs nothing saved. It multiplies the ``loss_weight`` of the named losses
    in ``model.distiller.distill_losses`` (their configured weights are kept as the target).

    Args:
        warmup (int): Length of the warm-up in epochs or iterations; 0 disables it.
        by_epoch (bool): Count epochs (True) or iterations. Defaults to True.
        loss_names (Sequence[str], optional): Losses to warm up; None means every distillation
            loss with a ``loss_weight``. Defaults to None.
    """

    priority = 'NORMAL'

    def __init__(self, warmup: int = 20, by_epoch: bool = True,
                 loss_names: Optional[Sequence[str]] = None) -> None:
        if warmup < 0:
            raise ValueError(f'DistillLossWarmupHook: `warmup` must be >= 0, got {warmup}')
        self.warmup = int(warmup)
        self.by_epoch = by_epoch
        self.loss_names = list(loss_names) if loss_names is not None else None
        self._targets: Optional[Dict[str, float]] = None

    def _losses(self, runner) -> Dict:
        model = runner.model.module if is_model_wrapper(runner.model) else runner.model
        distiller = getattr(model, 'distiller', None)
        if distiller is None or not hasattr(distiller, 'distill_losses'):
            raise ValueError('DistillLossWarmupHook needs a distillation model with '
                             '`distiller.distill_losses` (e.g. ReviewKDDistill).')
        losses = dict(distiller.distill_losses.items())
        names = self.loss_names if self.loss_names is not None else [
            n for n, m in losses.items() if hasattr(m, 'loss_weight')]
        missing = [n for n in names if n not in losses or not hasattr(losses[n], 'loss_weight')]
        if missing:
            raise ValueError(f'DistillLossWarmupHook.loss_names: {missing} are not distillation '
                             f'losses with a `loss_weight`; available: {sorted(losses)}')
        return {n: losses[n] for n in names}

    def factor(self, runner) -> float:
        """The current warm-up factor in (0, 1]."""
        if self.warmup == 0:
            return 1.0
        step = runner.epoch if self.by_epoch else runner.iter
        return min(1.0, (step + 1) / self.warmup)

    def before_train(self, runner) -> None:
        self._targets = {n: float(m.loss_weight) for n, m in self._losses(runner).items()}

    def before_train_iter(self, runner, batch_idx: int, data_batch=None) -> None:
        if self._targets is None:
            self.before_train(runner)
        factor = self.factor(runner)
        for name, module in self._losses(runner).items():
            module.loss_weight = self._targets[name] * factor
        runner.message_hub.update_scalar('train/distill_warmup', factor)

    def after_train(self, runner) -> None:
        # Leave the configured weights in place (e.g. for a checkpoint's later use).
        for name, module in self._losses(runner).items():
            module.loss_weight = self._targets[name]
