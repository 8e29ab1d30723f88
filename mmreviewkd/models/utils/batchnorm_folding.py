"""A frozen teacher's conv -> BatchNorm pairs run as one conv (``teacher_fold_bn``)."""
import contextlib
import logging
from typing import Callable, Iterator, List, Tuple

import torch
import torch.nn.functional as F
from mmengine.logging import print_log
from torch import Tensor, nn
from torch.nn.modules.batchnorm import _BatchNorm

_BN_FORWARDS = (_BatchNorm.forward, nn.SyncBatchNorm.forward)


class BatchNormFolding:
    """Run every conv -> BatchNorm pair of an eval-mode model as one convolution.

    In evaluation a BatchNorm is an affine map per channel, ``y = x * s + t`` with
    ``s = gamma / sqrt(running_var + eps)`` and ``t = beta - running_mean * s``, so a conv
    followed by it equals the conv with weight ``W * s`` and bias ``b * s + t`` (the classic
    inference fusion; same math up to float rounding). For a frozen teacher this saves one read
    and one write of every BatchNorm's map per step. The model is not changed: while
    :meth:`active` is entered the paired convs run the folded weights, computed from the current
    parameters and statistics at every entry, and the BatchNorms pass their input through; on
    exit both are restored, so state dict, checkpoints and copies made outside the context are
    those of the model.

    Pairs are found with a dry forward: a plain ``nn.Conv2d`` (zero padding) whose output tensor,
    not modified in place, is the input of a plain affine ``_BatchNorm`` (or ``SyncBatchNorm``)
    with running statistics, each called once. They are kept by module name and looked up in
    the model at every entry, so modules the runner swaps after the build (e.g. MMEngine
    reverting or converting SyncBatchNorm) are the ones folded; a pair whose modules changed
    type, are in training mode or carry forward hooks (a recorder's) at entry runs unfolded.
    The folded forward is checked against the plain one on the dry input with every paired
    BatchNorm's statistics temporarily drawn at random (so that a conv output read by something
    besides its BatchNorm shows even when the statistics are still the identity); a mismatch,
    or a failing folded forward, turns folding off with a warning.

    Not thread-safe: two threads running the model at once must not share it while active.

    Args:
        model (nn.Module): The frozen model.
        run (Callable[[], object]): A dry forward of ``model`` (eval mode, no grad) returning its
            output (a tensor or a tuple/list of tensors).
    """

    def __init__(self, model: nn.Module, run: Callable[[], object]) -> None:
        self.pairs: List[Tuple[str, str]] = self._find_pairs(model, run)
        self._active = False
        if self.pairs and not self._check(model, run):
            print_log('teacher_fold_bn: the folded teacher differs from the plain one on the '
                      'dry forward (or fails); running its BatchNorms unfolded.',
                      logger='current', level=logging.WARNING)
            self.pairs = []

    @staticmethod
    def _find_pairs(model: nn.Module, run: Callable[[], object]) -> List[Tuple[str, str]]:
        calls, outputs, inputs = {}, {}, {}

        def hook(module, args, output):
            calls[module] = calls.get(module, 0) + 1
            if isinstance(module, nn.Conv2d):
                outputs[module] = (output, output._version)
            else:
                x = args[0] if args else None
                inputs[module] = (x, x._version if isinstance(x, Tensor) else None)

        names = {m: n for n, m in model.named_modules()}
        candidates = [m for m in model.modules() if _foldable(m) and not _hooked(m)]
        handles = [m.register_forward_hook(hook) for m in candidates]
        try:
            with torch.no_grad():
                run()
        finally:
            for h in handles:
                h.remove()
        convs = {id(out): (conv, version) for conv, (out, version) in outputs.items()
                 if calls[conv] == 1}
        pairs = []
        for bn, (x, version) in inputs.items():
            if calls[bn] != 1 or id(x) not in convs:
                continue
            conv, conv_version = convs[id(x)]
            if version == conv_version and conv.out_channels == bn.num_features:
                pairs.append((names[conv], names[bn]))
        return pairs

    def _check(self, model: nn.Module, run: Callable[[], object]) -> bool:
        bns = [model.get_submodule(bn) for _, bn in self.pairs]
        saved = [{k: v.clone() for k, v in bn.state_dict().items()} for bn in bns]
        gen = torch.Generator().manual_seed(0)
        try:
            with torch.no_grad():
                for bn in bns:  # statistics away from identity, so misuse shows
                    for t, lo, hi in ((bn.weight, 0.5, 1.5), (bn.running_var, 0.5, 2.0)):
                        t.copy_(torch.rand(t.shape, generator=gen) * (hi - lo) + lo)
                    for t in (bn.bias, bn.running_mean):
                        t.copy_(torch.randn(t.shape, generator=gen))
                plain = _tensors(run())
                with self.active(model):
                    folded = _tensors(run())
        except RuntimeError:
            return False
        finally:
            with torch.no_grad():
                for bn, state in zip(bns, saved):
                    for k, v in state.items():
                        bn.state_dict()[k].copy_(v)
        return len(plain) == len(folded) and all(
            a.shape == b.shape and torch.allclose(a, b, rtol=1e-3, atol=1e-4 * (1 + a.abs().max()))
            for a, b in zip(plain, folded))

    @contextlib.contextmanager
    def active(self, model: nn.Module) -> Iterator[None]:
        """While entered, the pairs of ``model`` (looked up by name) whose modules are still a
        plain conv and an eval-mode BatchNorm without hooks run as folded convs. Re-entering
        while active folds nothing more."""
        if self._active:
            yield
            return
        patched = []
        self._active = True
        try:
            with torch.no_grad():
                for conv_name, bn_name in self.pairs:
                    conv, bn = model.get_submodule(conv_name), model.get_submodule(bn_name)
                    if (not _foldable(conv) or not _foldable(bn) or bn.training or
                            _hooked(conv) or _hooked(bn) or 'forward' in vars(conv) or
                            'forward' in vars(bn)):
                        continue
                    weight, bias = _folded(conv, bn)
                    conv.forward = _FoldedConvForward(conv, weight, bias)
                    bn.forward = _identity
                    patched.append((conv, bn))
            yield
        finally:
            for conv, bn in patched:
                vars(conv).pop('forward', None)
                vars(bn).pop('forward', None)
            self._active = False


def _foldable(m: nn.Module) -> bool:
    """A plain zero-padded ``nn.Conv2d``, or an affine BatchNorm with running statistics whose
    forward is ``_BatchNorm``'s or ``SyncBatchNorm``'s."""
    if isinstance(m, nn.Conv2d):
        return type(m).forward is nn.Conv2d.forward and m.padding_mode == 'zeros'
    return (isinstance(m, _BatchNorm) and type(m).forward in _BN_FORWARDS and m.affine and
            m.track_running_stats and m.running_mean is not None)


def _hooked(m: nn.Module) -> bool:
    return bool(m._forward_hooks or m._forward_pre_hooks)


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
