"""Multiply-accumulate counts of a multi-exit classifier, per exit (for early exit)."""
from typing import Dict, List, Sequence

import torch
from torch import Tensor, nn


def _module_macs(module: nn.Module, inputs: Sequence[Tensor], output: Tensor) -> int:
    if isinstance(module, nn.Conv2d):
        k = module.kernel_size[0] * module.kernel_size[1] * module.in_channels // module.groups
        return int(output.numel() // output.shape[0] * k)
    if isinstance(module, nn.Linear):
        return int(output.numel() // output.shape[0] * module.in_features)
    return 0


class _MacCounter:
    """Records, in call order, each leaf module's cumulative MACs and output storage."""

    def __init__(self, model: nn.Module) -> None:
        self.total = 0
        self.calls: List[Dict] = []
        self.handles = [m.register_forward_hook(self._hook) for m in model.modules()
                        if len(list(m.children())) == 0]

    def _hook(self, module, inputs, output) -> None:
        before = self.total
        if isinstance(output, Tensor):
            self.total += _module_macs(module, inputs, output)
        self.calls.append(dict(
            before=before, after=self.total,
            inputs={t.data_ptr() for t in inputs if isinstance(t, Tensor)},
            output=output.data_ptr() if isinstance(output, Tensor) else None))

    def cost_until(self, tensor: Tensor) -> int:
        """MACs spent until ``tensor`` existed: after the last call that produced it, or else
        before the first call that consumed it, or else everything."""
        ptr = tensor.data_ptr()
        produced = [c['after'] for c in self.calls if c['output'] == ptr]
        if produced:
            return produced[-1]
        consumed = [c['before'] for c in self.calls if ptr in c['inputs']]
        return consumed[0] if consumed else self.total

    def remove(self) -> None:
        for h in self.handles:
            h.remove()


@torch.no_grad()
def multi_exit_macs(model: nn.Module, input_shape: Sequence[int]) -> Dict[str, List[float]]:
    """MACs per image of a :class:`MultiExitClassifier` for every way of answering.

    Args:
        model (nn.Module): The multi-exit classifier (eval mode is used).
        input_shape (Sequence[int]): (C, H, W).

    Returns:
        dict: ``exit`` - K cumulative MACs of a sequential early exit that answers at exit k
        (backbone up to that exit's stage + exits 1..k; the deepest includes neck and head);
        ``ensemble`` - MACs of running every exit; ``branch`` - MACs of each exit branch alone.
    """
    was_training = model.training
    model.eval()
    x = torch.zeros(1, *input_shape)
    counter = _MacCounter(model.backbone)
    try:
        stages = model.backbone(x)
    finally:
        counter.remove()
    backbone_total = counter.total
    stage_cost = [counter.cost_until(stages[i]) for i in model.exit_indices]

    branch = []
    for i, exit_branch in zip(model.exit_indices, model.exits):
        c = _MacCounter(exit_branch)
        try:
            exit_branch(stages[i])
        finally:
            c.remove()
        branch.append(c.total)
    c = _MacCounter(model.head)
    try:
        pooled = model.neck(stages) if model.with_neck else stages
        model.head(pooled)
    finally:
        c.remove()
    head = c.total
    model.train(was_training)

    exit_costs = [stage_cost[k] + sum(branch[:k + 1]) for k in range(len(branch))]
    ensemble = backbone_total + sum(branch) + head
    exit_costs.append(ensemble)
    return dict(exit=[float(v) for v in exit_costs], ensemble=float(ensemble),
                branch=[float(v) for v in branch] + [float(head)])


def inference_cost(model: nn.Module, input_shape: Sequence[int]) -> Dict[str, Dict[str, float]]:
    """Parameters and MACs per image of a classifier at inference.

    A distillation-only part (ABF connectors, the teacher) is not part of the deployed student
    and is not counted: pass the student (``algorithm.student``).

    Args:
        model (nn.Module): A classifier with ``backbone`` (and optional ``neck``) and ``head``;
            a :class:`MultiExitClassifier` is recognised by its ``exits``.
        input_shape (Sequence[int]): (C, H, W) of one image.

    Returns:
        dict: ``{'model': {'params', 'macs'}}`` for a plain classifier; for a multi-exit one
        ``'deepest'`` (backbone, neck and head only: the exit branches dropped) and ``'vote'``
        (every exit runs).
    """
    def params(modules) -> float:
        return float(sum(p.numel() for m in modules if m is not None for p in m.parameters()))

    plain = [model.backbone, getattr(model, 'neck', None), model.head]
    if hasattr(model, 'exits'):
        macs = multi_exit_macs(model, input_shape)
        deepest = macs['ensemble'] - sum(macs['branch'][:-1])
        return dict(deepest=dict(params=params(plain), macs=deepest),
                    vote=dict(params=params([model]), macs=macs['ensemble']))
    was_training = model.training
    model.eval()
    counter = _MacCounter(model)
    try:
        with torch.no_grad():
            feats = model.backbone(torch.zeros(1, *input_shape))
            if getattr(model, 'neck', None) is not None:
                feats = model.neck(feats)
            model.head(feats)
    finally:
        counter.remove()
        model.train(was_training)
    return dict(model=dict(params=params(plain), macs=float(counter.total)))
