"""Stopping on a NaN/inf loss with the model exactly as it was before the batch."""
from typing import Dict, Iterable, List, Tuple

import torch
from torch import Tensor, nn


class BufferSnapshot:
    """Copies of every buffer of some modules (BatchNorm running statistics, ...), taken when a
    training step begins and written back if the step is abandoned."""

    def __init__(self) -> None:
        self._saved: List[Tuple[Tensor, Tensor]] = []

    def take(self, modules: Iterable[nn.Module]) -> None:
        """Remember the current value of every buffer of ``modules``."""
        self._saved = [(b, b.detach().clone()) for m in modules for b in m.buffers()]

    @torch.no_grad()
    def restore(self) -> None:
        """Write the remembered values back."""
        for buf, saved in self._saved:
            buf.copy_(saved)


def raise_if_not_finite(losses: Dict[str, Tensor], snapshot: BufferSnapshot) -> None:
    """Raise on a NaN/inf loss after restoring ``snapshot``.

    The forward has already updated BatchNorm statistics: they are restored, and the error is
    raised before backward, so weights and optimizer state are untouched too. Under DDP every
    process decides together (one all-reduce of a flag), so none is left waiting in backward.

    Args:
        losses (dict[str, Tensor]): The step's losses.
        snapshot (BufferSnapshot): The buffers as they were when the step began.

    Raises:
        FloatingPointError: naming the first non-finite loss.
    """
    bad = [name for name, value in losses.items()
           if isinstance(value, Tensor) and not torch.isfinite(value.detach()).all()]
    flag = torch.tensor([float(bool(bad))])
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        if torch.distributed.get_backend() == 'nccl':
            flag = flag.cuda()
        torch.distributed.all_reduce(flag, op=torch.distributed.ReduceOp.MAX)
    if flag.item() == 0:
        return
    snapshot.restore()
    what = (f'loss `{bad[0]}` is {losses[bad[0]].detach().float().mean().item()}' if bad
            else 'a loss on another process is not finite')
    raise FloatingPointError(
        f'{what}: training stopped with the model as it was before this batch (weights, '
        f'optimizer state and BatchNorm statistics untouched). Lower the loss weights '
        f'(model.distiller.distill_losses / model.tskd_loss) or the learning rate, and check '
        f'the inputs.')
