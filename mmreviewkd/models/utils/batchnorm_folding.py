"""A frozen teacher's conv -> BatchNorm pairs run as one conv (``teacher_fold_bn``)."""
import contextlib
import logging
from typing import Callable, Iterator, List, Tuple

import torch
import torch.nn.functional as F
from mmengine.logging import print_log
from torch import Tensor, nn
from torch.nn.modules.batchnorm import _BatchNorm


class BatchNormFolding:
    """Run every conv -> BatchNorm pair of an eval-mode model as one convolution.

    In evaluation a BatchNorm is an affine map per channel, ``y = x * s + t`` with
    ``s = gamma / sqrt(running_var + eps)`` and ``t = beta - running_mean * s``, so a conv
    followed by it equals the conv with weight ``W * s`` and bias ``b * s + t`` (the classic
    inference fusion; same math up to float rounding). For a frozen teacher this saves one read
    and one write of every BatchNorm's map per step. The model is not changed: while
    :meth:`active` is entered the paired convs run the folded weights, computed from the current
    parameters and statistics at every entry, and the BatchNorms pass their input through; on
    exit both are restored, so state dict, checkpoints and copies are those of the model.

    Pairs are found with a dry forward: a ``Conv2d`` whose output tensor is the input of a
    ``_BatchNorm`` (both called once, the BN tracking running statistics, neither hooked by a
    recorder, zero padding). The folded forward is checked against the plain one on the same
    input; a mismatch (e.g. a conv output that something else reads too) turns folding off with
    a warning.

    Args:
        model (nn.Module): The frozen model (its BatchNorms in eval mode when used).
        run (Callable[[], object]): A dry forward of ``model`` (eval mode, no grad) returning its
            output (a tensor or a tuple/list of tensors).
    """

    def __init__(self, model: nn.Module, run: Callable[[], object]) -> None:
        self.pairs: List[Tuple[nn.Conv2d, _BatchNorm]] = self._find_pairs(model, run)
        if self.pairs and not self._check(run):
            print_log('teacher_fold_bn: the folded teacher differs from the plain one on the '
                      'dry forward; running its BatchNorms unfolded.', logger='current',
                      level=logging.WARNING)
            self.pairs = []

    @staticmethod
    def _find_pairs(model: nn.Module, run: Callable[[], object]):
        calls, outputs, inputs = {}, {}, {}

        def hook(module, args, output):
            calls[module] = calls.get(module, 0) + 1
            if isinstance(module, nn.Conv2d):
                outputs[module] = output
            else:
                inputs[module] = args[0] if args else None

        candidates = [m for m in model.modules()
                      if (isinstance(m, nn.Conv2d) and m.padding_mode == 'zeros' or
                          isinstance(m, _BatchNorm) and m.track_running_stats and m.affine)
                      and not m._forward_hooks and not m._forward_pre_hooks]
        handles = [m.register_forward_hook(hook) for m in candidates]
        try:
            with torch.no_grad():
                run()
        finally:
            for h in handles:
                h.remove()
        convs = {id(out): conv for conv, out in outputs.items() if calls[conv] == 1}
        return [(convs[id(x)], bn) for bn, x in inputs.items()
                if calls[bn] == 1 and id(x) in convs and
                convs[id(x)].out_channels == bn.num_features]

    def _check(self, run: Callable[[], object]) -> bool:
        with torch.no_grad():
            plain = _tensors(run())
            with self.active():
                folded = _tensors(run())
        return len(plain) == len(folded) and all(
            a.shape == b.shape and torch.allclose(a, b, rtol=1e-3, atol=1e-4 * (1 + a.abs().max()))
            for a, b in zip(plain, folded))

    @contextlib.contextmanager
    def active(self) -> Iterator[None]:
        """While entered, the pairs whose BatchNorm is in eval mode run as folded convs."""
        patched = []
        try:
            with torch.no_grad():
                for conv, bn in self.pairs:
                    if bn.training:
                        continue
                    weight, bias = _folded(conv, bn)
                    conv.forward = _FoldedConvForward(conv, weight, bias)
                    bn.forward = _identity
                    patched.append((conv, bn))
            yield
        finally:
            for conv, bn in patched:
                del conv.forward, bn.forward


def _folded(conv: nn.Conv2d, bn: _BatchNorm) -> Tuple[Tensor, Tensor]:
    scale = bn.weight * torch.rsqrt(bn.running_var + bn.eps)
    bias = bn.bias - bn.running_mean * scale
    if conv.bias is not None:
        bias = bias + conv.bias * scale
    return conv.weight * scale.reshape(-1, 1, 1, 1), bias


class _FoldedConvForward:
    """``conv``'s forward with a folded weight and bias (stride, padding, groups kept)."""

    def __init__(self, conv: nn.Conv2d, weight: Tensor, bias: Tensor) -> None:
        self.conv, self.weight, self.bias = conv, weight, bias

    def __call__(self, x: Tensor) -> Tensor:
        c = self.conv
        return F.conv2d(x, self.weight, self.bias, c.stride, c.padding, c.dilation, c.groups)


def _identity(x: Tensor) -> Tensor:
    return x


def _tensors(out) -> List[Tensor]:
    if isinstance(out, Tensor):
        return [out]
    if isinstance(out, (list, tuple)):
        return [t for item in out for t in _tensors(item)]
    return []
