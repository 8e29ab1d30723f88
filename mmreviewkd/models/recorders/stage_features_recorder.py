"""A recorder that returns a model's stage features (and pooled feature) as one list."""
from typing import Any, Dict, List, Optional, Sequence, Tuple, Union

from mmrazor.models.task_modules.recorder.base_recorder import BaseRecorder
from torch import Tensor, nn

from mmreviewkd.registry import TASK_UTILS
from mmreviewkd.utils import clone_tensors


def _find(model: nn.Module, name: str, key: str) -> nn.Module:
    modules = dict(model.named_modules())
    if name not in modules:
        candidates = [n for n in modules if n and n.count('.') <= 1][:12]
        raise ValueError(f'{key}: "{name}" is not a module of {type(model).__name__}. '
                         f'Top-level modules include {candidates}.')
    return modules[name]


@TASK_UTILS.register_module()
class StageFeaturesRecorder(BaseRecorder):
    """Record several feature maps of one forward pass and return them as one list.

    With the defaults it needs no module paths for MMPretrain classifiers and MMDet detectors:
    it records the output of ``source`` (a backbone returning a tuple of ``out_indices`` stage
    features, or an FPN neck returning its levels) and appends the output of ``pooled_source``
    (the classifier's global-pooling neck) as a 1x1 map.

    Use it in ``ConfigurableDistiller`` as ``dict(type='StageFeatures', ...)`` (MMRazor appends
    ``Recorder``).

    Args:
        source (str): Module whose output is a tensor or a tuple of tensors. Defaults to
            ``'backbone'``.
        pooled_source (str, optional): Module whose output (or the last item of it) is a pooled
            (N, C) vector, appended as (N, C, 1, 1). Defaults to ``'neck'``; None to skip.
        preact (bool): Record the stage outputs *before* their final activation instead. The
            backbone (``source``) must name those activation modules through a
            ``preact_sources()`` method, as the CIFAR backbones of this package do; their
            inputs are recorded. Defaults to False.
        sources (Sequence, optional): Explicit modules instead of ``source``: each item is a
            module name, or a dict ``dict(name=..., io='outputs' | 'inputs', call=-1)`` picking
            the output/input of the ``call``-th call of that module in a forward. Overrides
            ``source`` and ``preact``.
        stage_indices (Sequence[int], optional): Keep only these of the recorded stage features
            (before the pooled one is appended), e.g. ``(0, 1, 2, 3)`` when the backbone's last
            output is a head-only 1x1 conv (CIFAR MobileNetV2 / ShuffleNetV2). Defaults to None
            (keep all).
    """

    def __init__(self,
                 source: str = 'backbone',
                 pooled_source: Optional[str] = 'neck',
                 preact: bool = False,
                 sources: Optional[Sequence[Union[str, Dict[str, Any]]]] = None,
                 stage_indices: Optional[Sequence[int]] = None) -> None:
        super().__init__(source)
        self.stage_indices = tuple(stage_indices) if stage_indices is not None else None
        self.pooled_source = pooled_source
        self.preact = preact
        self.explicit_sources = [
            dict(name=s, io='outputs', call=-1) if isinstance(s, str) else
            dict(dict(io='outputs', call=-1), **s) for s in (sources or [])
        ]
        self._slots: List[List[Any]] = []
        self._plan: List[Tuple[str, int]] = []  # (kind, call) per slot
        self._recording = False

    # ------------------------------------------------------------------ set-up
    def _hook(self, slot: int, io: str):
        def hook(module: nn.Module, inputs: Tuple, outputs: Any) -> None:
            if self._recording:
                self._slots[slot].append(inputs[0] if io == 'inputs' else outputs)
        return hook

    def _add(self, module: nn.Module, kind: str, io: str, call: int) -> None:
        self._slots.append([])
        self._plan.append((kind, call))
        module.register_forward_hook(self._hook(len(self._slots) - 1, io))

    def prepare_from_model(self, model: Optional[nn.Module] = None) -> None:
        """Register forward hooks on the modules to record."""
        assert model is not None, 'model can not be None.'
        key = 'StageFeaturesRecorder'
        if self.explicit_sources:
            for src in self.explicit_sources:
                if src['io'] not in ('inputs', 'outputs'):
                    raise ValueError(f'{key}.sources: io must be "inputs" or "outputs", '
                                     f'got {src["io"]!r}')
                self._add(_find(model, src['name'], f'{key}.sources'), 'tensor', src['io'],
                          src['call'])
        elif self.preact:
            backbone = _find(model, self.source, f'{key}.source')
            if not hasattr(backbone, 'preact_sources'):
                raise ValueError(
                    f'{key}: preact=True needs `{self.source}` to declare its stages\' final '
                    f'activations through `preact_sources()`, which {type(backbone).__name__} '
                    'does not. Use a backbone of this package, set preact=False, or list the '
                    'activation modules in `sources` with io="inputs".')
            prefix = f'{self.source}.' if self.source else ''
            for name in backbone.preact_sources():
                self._add(_find(model, prefix + name, f'{key}.preact'), 'tensor', 'inputs', -1)
        else:
            self._add(_find(model, self.source, f'{key}.source'), 'multi', 'outputs', -1)
        if self.pooled_source:
            self._add(_find(model, self.pooled_source, f'{key}.pooled_source'), 'pooled',
                      'outputs', -1)

    # --------------------------------------------------------------- recording
    def reset_data_buffer(self) -> None:
        """Clear every slot."""
        self._data_buffer = []
        self._slots = [[] for _ in self._slots]

    def clone_records(self) -> None:
        """Replace every recorded tensor by a clone (inference-mode tensors -> normal ones)."""
        self._slots = [clone_tensors(slot) for slot in self._slots]

    def get_record_data(self, record_idx: int = 0, data_idx: Optional[int] = None) -> Any:
        """Return the recorded features as one list, shallow -> deep.

        Args:
            record_idx (int): Ignored for slots with a fixed ``call``; kept for MMRazor's API.
            data_idx (int, optional): Return only this level.

        Returns:
            list[Tensor]: stage features (N, C_i, H_i, W_i), then the pooled (N, C, 1, 1).
        """
        feats: List[Tensor] = []
        pooled: List[Tensor] = []
        for slot, (kind, call) in zip(self._slots, self._plan):
            if not slot:
                raise RuntimeError('StageFeaturesRecorder: nothing recorded; run the model '
                                   'inside the recorder context first.')
            out = slot[call]
            if kind == 'multi':
                feats.extend(out if isinstance(out, (list, tuple)) else [out])
            elif kind == 'pooled':
                out = out[-1] if isinstance(out, (list, tuple)) else out
                pooled.append(out.reshape(out.shape[0], -1, 1, 1))
            else:
                feats.append(out)
        if self.stage_indices is not None:
            try:
                feats = [feats[i] for i in self.stage_indices]
            except IndexError:
                raise ValueError(f'StageFeaturesRecorder.stage_indices={self.stage_indices} but '
                                 f'only {len(feats)} stage features were recorded') from None
        feats = feats + pooled
        return feats if data_idx is None else feats[data_idx]

    def __enter__(self):
        super().__enter__()
        self._recording = True

    def __exit__(self, exc_type, exc_value, traceback):
        super().__exit__(exc_type, exc_value, traceback)
        self._recording = False
