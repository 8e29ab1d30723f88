"""Exporting a trained student to ONNX: one self-contained graph, normalisation included.

The graph takes the images as the data preprocessor receives them after ``PackInputs``:
float (N, C, H, W) pixels in 0-255 (dataset channel order; the batch axis is dynamic). The
preprocessor's ``to_rgb`` flip and mean/std normalisation are in the graph, so a runtime feeds
raw pixels and needs nothing from the config.

What is exported (``output``):

* ``'logits'``: (N, num_classes) logits of ``mode='tensor'`` (of a multi-exit student: its
  deepest exit); of a distillation config (ReviewKD, KD) only the student
  ``model.architecture`` is exported, no teacher, no ABF connectors.
* ``'vote'``: (N, C) scores of the multi-exit model's own vote rule (``model.vote``:
  soft / weighted / hard / exit, :func:`ensemble_vote`) over the exits' softmax probabilities;
  hard (argmax + one-hot) is a static graph too, but a near-tie may flip an exit's class.
* ``'exit'``: (N, C) logits of one exit (``exit_index``; 0 = shallowest, -1 = deepest).
* ``'exits'``: (N, K, C) softmax probabilities of all K exits.
* ``'early-exit'`` is refused: which exits run depends on the data, control flow a static
  ONNX graph cannot express. Export ``'exits'`` and apply the thresholds in the runtime.
"""
import copy
import os
import os.path as osp
import warnings
from typing import Optional, Sequence, Tuple

import torch
from torch import Tensor, nn

OUTPUTS = ('logits', 'vote', 'exit', 'exits', 'early-exit')
OUTPUT_NAMES = dict(logits='logits', vote='scores', exit='logits', exits='probs')


class InputNormalization(nn.Module):
    """What an MMPretrain ``ClsDataPreprocessor`` does to a stacked batch at test time.

    Args:
        data_preprocessor (nn.Module): The model's ``ClsDataPreprocessor``: ``to_rgb`` flip of
            3-channel images, then ``(x - mean) / std`` (if it has mean and std).
        key (str): Its config key, for error messages.

    Raises:
        TypeError: For another preprocessor type (e.g. MMEngine's ``ImgDataPreprocessor``).
        ValueError: For ``pad_size_divisor`` > 1 (padding depends on the input size).
    """

    def __init__(self, data_preprocessor: nn.Module, key: str = 'model.data_preprocessor'):
        super().__init__()
        from mmpretrain.models.utils import ClsDataPreprocessor
        dp = data_preprocessor
        if not isinstance(dp, ClsDataPreprocessor):
            raise TypeError(f'{key}: exporting the normalisation of {type(dp).__name__} is not '
                            "supported; use type='mmpretrain.ClsDataPreprocessor'.")
        if dp.pad_size_divisor > 1:
            raise ValueError(f'{key}.pad_size_divisor={dp.pad_size_divisor}: padding is not '
                             'exported; feed images of the final size and set it to 1.')
        self.to_rgb = bool(dp.to_rgb)
        mean, std = getattr(dp, 'mean', None), getattr(dp, 'std', None)
        self.normalize = mean is not None
        self.register_buffer('mean', mean.clone() if self.normalize else torch.zeros(1, 1, 1))
        self.register_buffer('std', std.clone() if self.normalize else torch.ones(1, 1, 1))

    def forward(self, inputs: Tensor) -> Tensor:
        """Normalise (N, C, H, W) 0-255 images into the network's (N, C, H, W) inputs."""
        if self.to_rgb and inputs.shape[1] == 3:
            inputs = inputs.flip(1)
        inputs = inputs.float()
        return (inputs - self.mean) / self.std if self.normalize else inputs


def is_multi_exit(model: nn.Module) -> bool:
    """Whether ``model`` has exits (``forward_exits``, ``exit_probs``, ``vote``)."""
    return hasattr(model, 'forward_exits') and hasattr(model, 'exit_probs')


def select_output(model: nn.Module, inputs: Tensor, output: str, exit_index: int = -1) -> Tensor:
    """The requested output of ``model`` on normalised inputs (see the module docstring).

    Args:
        model (nn.Module): The student, in eval mode.
        inputs (Tensor): (N, C, H, W) normalised images.
        output (str): ``'logits'``, ``'vote'``, ``'exit'`` (``exit_index``) or ``'exits'``.
        exit_index (int): The exit of ``'exit'``.

    Returns:
        Tensor: (N, C) logits / scores, or (N, K, C) probabilities for ``'exits'``.
    """
    if output == 'logits':
        return model(inputs, mode='tensor')
    if output == 'exit':
        return model.forward_exits(inputs)[0][exit_index]
    probs = model.exit_probs(inputs)  # (K, N, C)
    if output == 'exits':
        return probs.transpose(0, 1)
    from mmreviewkd.models.utils.ensemble import ensemble_vote
    return ensemble_vote(probs, model.vote, model.vote_weights, model.vote_exit)


def check_output_request(model: nn.Module, output: str, exit_index: int = -1,
                         key: str = 'model') -> None:
    """Refuse an output the model cannot give as a static graph, with the way out.

    Args:
        model (nn.Module): The student.
        output (str): One of :data:`OUTPUTS`.
        exit_index (int): The exit of ``'exit'``.
        key (str): Config key of the student (``model`` or ``model.architecture``).

    Raises:
        ValueError: For early exit (a config ``early_exit_threshold`` with ``'vote'`` too), a
            multi-exit output of a single-exit model, an unknown output or exit index.
    """
    if output not in OUTPUTS:
        raise ValueError(f'output={output!r}: choose one of {OUTPUTS}')
    if output == 'early-exit':
        raise ValueError(
            'early exit cannot be exported: which exits run depends on each sample (data-'
            'dependent control flow), which a static ONNX graph cannot express. Export the '
            'exits\' probabilities with --output exits, (N, K, C), and apply the thresholds in '
            'the runtime.')
    multi_exit = is_multi_exit(model)
    if output in ('vote', 'exit', 'exits') and not multi_exit:
        raise ValueError(f'--output {output} needs a multi-exit student (mmreviewkd.'
                         f'MultiExitClassifier); {key} ({type(model).__name__}) has one exit: '
                         'use --output logits.')
    if multi_exit and output == 'vote' and model.early_exit_threshold is not None:
        raise ValueError(
            f'{key}.early_exit_threshold={model.early_exit_threshold!r}: the model predicts '
            'with early exit, which a static ONNX graph cannot express. Export --output exits '
            '(N, K, C) and apply the thresholds in the runtime, or export the plain vote '
            f'(`{key}.vote`) with --cfg-options {key}.early_exit_threshold=None.')
    if multi_exit and output == 'exit' and not -model.num_exits <= exit_index < model.num_exits:
        raise ValueError(f'--exit {exit_index}: the model has {model.num_exits} exits '
                         f'(0..{model.num_exits - 1}, or -1 for the deepest).')


class DeployableClassifier(nn.Module):
    """Raw images in, one output of the student out: what is exported to ONNX.

    Args:
        model (nn.Module): The student (its ``data_preprocessor`` gives the normalisation).
        output (str): See :func:`select_output`. Defaults to ``'logits'``.
        exit_index (int): The exit of ``'exit'``. Defaults to -1 (deepest).
        key (str): Config key of the student, for error messages.

    Raises:
        ValueError / TypeError: From :func:`check_output_request`, :class:`InputNormalization`.
    """

    def __init__(self, model: nn.Module, output: str = 'logits', exit_index: int = -1,
                 key: str = 'model') -> None:
        super().__init__()
        check_output_request(model, output, exit_index, key)
        self.normalization = InputNormalization(model.data_preprocessor, key + '.data_preprocessor')
        self.model = model.eval()
        self.output, self.exit_index = output, exit_index

    def forward(self, inputs: Tensor) -> Tensor:
        """(N, C, H, W) float 0-255 images -> (N, C) logits/scores or (N, K, C) probabilities."""
        return select_output(self.model, self.normalization(inputs), self.output, self.exit_index)


def student_config(model_cfg: dict) -> Tuple[dict, str]:
    """The student's model config (with the preprocessor it runs with) and its config key.

    Of a distillation config: ``model.architecture``, with ``model.data_preprocessor`` if set
    (as MMRazor's algorithms do); of any other config: ``model`` itself.
    """
    model_cfg = copy.deepcopy(dict(model_cfg))
    if 'architecture' not in model_cfg:
        return model_cfg, 'model'
    student = dict(model_cfg['architecture'])
    if model_cfg.get('data_preprocessor') is not None:
        student['data_preprocessor'] = model_cfg['data_preprocessor']
    return student, 'model.architecture'


def build_student(cfg, checkpoint: Optional[str] = None) -> Tuple[nn.Module, str]:
    """Build the student of ``cfg`` alone and load ``checkpoint`` into it strictly.

    Args:
        cfg (Config): A plain or distillation config.
        checkpoint (str, optional): The student's or the whole distillation checkpoint
            (mapped by :func:`load_checkpoint_strict`). None keeps the initial weights.

    Returns:
        tuple: The student in eval mode and its config key.

    Raises:
        FileNotFoundError / ValueError: For a missing checkpoint or one that does not fit.
    """
    from mmengine.logging import print_log
    from mmengine.registry import DefaultScope

    from mmreviewkd.registry import MODELS
    from mmreviewkd.utils.checkpoint import load_checkpoint_strict
    student_cfg, key = student_config(cfg.model)
    with DefaultScope.overwrite_default_scope(cfg.get('default_scope', 'mmreviewkd')):
        model = MODELS.build(student_cfg)
    if checkpoint is not None:
        for note in load_checkpoint_strict(model, checkpoint, key='checkpoint'):
            print_log(f'checkpoint {checkpoint}: {note}', logger='current')
    return model.eval(), key


def export_onnx(module: nn.Module, path: str, input_shape: Sequence[int],
                exporter: str = 'auto', opset: Optional[int] = None) -> str:
    """Write ``module`` to ``path`` as one ONNX file with a dynamic batch axis.

    Args:
        module (DeployableClassifier): The module to export (eval mode).
        path (str): The ``.onnx`` file to write.
        input_shape (Sequence[int]): (C, H, W) of one image.
        exporter (str): ``'dynamo'`` (torch.export, needs ``onnxscript``), ``'torchscript'``
            (legacy tracer) or ``'auto'`` (default: dynamo, on failure torchscript).
        opset (int, optional): ONNX opset. Defaults to the exporter's default.

    Returns:
        str: The exporter used, ``'dynamo'`` or ``'torchscript'``.

    Raises:
        ValueError: For an unknown ``exporter``; otherwise what the (last) exporter raises.
    """
    if exporter not in ('auto', 'dynamo', 'torchscript'):
        raise ValueError(f'exporter={exporter!r}: use auto, dynamo or torchscript')
    os.makedirs(osp.dirname(osp.abspath(path)), exist_ok=True)
    example = (torch.rand(2, *input_shape) * 255, )
    output_name = OUTPUT_NAMES.get(getattr(module, 'output', 'logits'), 'output')
    names = dict(input_names=['inputs'], output_names=[output_name], opset_version=opset)
    module.eval()
    if exporter in ('auto', 'dynamo'):
        try:
            torch.onnx.export(module, example, path, dynamo=True, external_data=False,
                              dynamic_shapes=({0: torch.export.Dim('batch')}, ),
                              verbose=False, **names)
            return 'dynamo'
        except Exception as e:  # onnxscript missing, an op torch.export cannot trace, ...
            if exporter == 'dynamo':
                raise
            while e.__cause__ is not None:  # the root cause, not torch.onnx's wrapper
                e = e.__cause__
            first_line = (str(e).splitlines() or [''])[0][:200]
            warnings.warn(f'the dynamo ONNX exporter failed ({type(e).__name__}: {first_line}); '
                          'falling back to the TorchScript exporter (see: --exporter dynamo)')
    with warnings.catch_warnings():
        warnings.simplefilter('ignore', DeprecationWarning)  # "legacy exporter" notice
        torch.onnx.export(module, example, path, dynamo=False, **names,
                          dynamic_axes={'inputs': {0: 'batch'}, output_name: {0: 'batch'}})
    return 'torchscript'
