"""``ReviewKDDistill``: MMRazor's single-teacher distillation with shape inference, a truly
frozen teacher and a teacher forward that computes only what distillation reads."""
from typing import Any, Dict, List, Optional, Sequence, Tuple, Union

import torch
from mmengine.logging import MMLogger
from mmrazor.models.algorithms.distill.configurable.single_teacher_distill import \
    SingleTeacherDistill
from mmrazor.models.utils import add_prefix
from torch import Tensor, nn

from mmreviewkd.registry import MODELS
from mmreviewkd.utils import clone_tensors, disable_inplace, load_teacher_checkpoint

ShapeList = List[Tuple[int, ...]]


def _shapes(record) -> ShapeList:
    """(C, H, W) of every tensor in a recorded feature list."""
    items = record if isinstance(record, (list, tuple)) else [record]
    return [tuple(int(d) for d in t.shape[1:]) for t in items]


@MODELS.register_module()
class ReviewKDDistill(SingleTeacherDistill):
    """Single-teacher feature distillation for ReviewKD (and any connector that can be built
    from feature shapes).

    On top of MMRazor's ``SingleTeacherDistill`` it

    * infers the channels and spatial sizes of the recorded student and teacher features with a
      dry forward on a dummy input of ``input_shape`` and builds every connector that has a
      ``build_chain(student_shapes, teacher_shapes, key)`` method (``ReviewKDConnector``);
      mismatches raise at build time with the config keys named;
    * keeps the whole teacher in eval mode (not only its BN layers) and without gradients,
      unless ``teacher_trainable``;
    * runs the teacher only as far as distillation needs: ``'tensor'`` mode for classifiers
      (features + logits), ``extract_feat`` for detectors;
    * turns every in-place op of student and teacher off (MMRazor's walk does nothing on
      torch >= 2.5), so recorded tensors are never overwritten;
    * loads ``teacher_ckpt`` strictly (weights-only); a missing, corrupt or mismatching file
      fails the build with the config key named (MMRazor would load it partially and go on);
    * checks that inputs have the channels of ``input_shape`` and that losses are finite;
    * offers speed-ups that leave the losses the same up to float rounding (measured by
      ``tools/analysis_tools/benchmark_step.py``): ``channels_last`` memory format (on by default
      for classifiers), the teacher under ``torch.inference_mode`` and ``torch.compile`` of the
      connectors (both off by default: no measurable gain on CPU / a one-off compile cost).

    Args:
        input_shape (Sequence[int]): (C, H, W) of the dummy input for shape inference.
            Defaults to (3, 32, 32).
        infer_shapes (bool): Run the dry forward at build time. Defaults to True.
        teacher_eval (bool): Keep the whole teacher in eval mode. Defaults to True.
        teacher_forward (str): ``'auto'``, ``'tensor'``, ``'extract_feat'`` or ``'loss'``.
            Defaults to ``'auto'`` (``'tensor'`` if the teacher has a ``head``, else
            ``'extract_feat'``).
        check_finite (bool): Raise when a distillation loss is NaN/inf. Defaults to True.
        teacher_preprocess (dict, optional): The teacher's own normalisation when it differs
            from the student's: ``dict(mean=[...], std=[...], bgr_to_rgb=bool)`` relative to the
            images as loaded (e.g. caffe-style BGR for the teacher, pytorch-style RGB for the
            student). The student's preprocessing is undone exactly, the teacher's applied, and
            padded regions are reset to 0. Defaults to None (the teacher sees the student's
            inputs).
        channels_last (bool, optional): Run student, teacher and connectors in the
            ``channels_last`` memory format (weights converted once, inputs per step). ``None``
            (default) enables it for MMPretrain classifiers and leaves detectors contiguous
            (several mmcv ops assume NCHW-contiguous inputs).
        teacher_grad_mode (str): ``'no_grad'`` (default) or ``'inference_mode'`` for the
            teacher's forward; recorded teacher tensors are then cloned into normal tensors so
            the losses can use them in autograd.
        compile_connectors (bool | dict): ``torch.compile`` every connector in place (state
            dict keys unchanged); a dict is passed to ``torch.compile`` as keyword arguments.
            Defaults to False.
        **kwargs: Arguments of ``SingleTeacherDistill`` (``architecture``, ``teacher``,
            ``distiller``, ``teacher_ckpt``, ...).
    """

    def __init__(self,
                 *args,
                 input_shape: Sequence[int] = (3, 32, 32),
                 infer_shapes: bool = True,
                 teacher_eval: bool = True,
                 teacher_forward: str = 'auto',
                 check_finite: bool = True,
                 teacher_ckpt: Optional[str] = None,
                 teacher_preprocess: Optional[dict] = None,
                 channels_last: Optional[bool] = None,
                 teacher_grad_mode: str = 'no_grad',
                 compile_connectors: Union[bool, dict] = False,
                 **kwargs) -> None:
        super().__init__(*args, teacher_ckpt=None, **kwargs)
        self.teacher_preprocess = None
        if teacher_preprocess is not None:
            self._setup_teacher_preprocess(teacher_preprocess)
        if teacher_ckpt:
            load_teacher_checkpoint(self.teacher, teacher_ckpt)
            self.teacher._is_init = True  # init_weights() must not overwrite the weights
        self.teacher_ckpt = teacher_ckpt
        if teacher_forward not in ('auto', 'tensor', 'extract_feat', 'loss'):
            raise ValueError(f'model.teacher_forward must be auto/tensor/extract_feat/loss, '
                             f'got {teacher_forward!r}')
        self.teacher_eval = teacher_eval and not self.teacher_trainable
        self.teacher_forward = teacher_forward
        self.check_finite = check_finite
        self.input_shape = tuple(input_shape)
        disable_inplace(self.student)
        disable_inplace(self.teacher)
        if infer_shapes:
            self.feature_shapes = self._infer_and_build_connectors()
        if self.teacher_eval:
            self.teacher.eval()
        self._setup_speed(channels_last, teacher_grad_mode, compile_connectors)

    def _setup_speed(self, channels_last: Optional[bool], teacher_grad_mode: str,
                     compile_connectors: Union[bool, dict]) -> None:
        """Validate and apply the speed options (see the class docstring)."""
        if teacher_grad_mode not in ('no_grad', 'inference_mode'):
            raise ValueError(f'model.teacher_grad_mode must be "no_grad" or "inference_mode", '
                             f'got {teacher_grad_mode!r}')
        self.teacher_grad_mode = teacher_grad_mode
        if channels_last is None:
            from mmpretrain.models import ImageClassifier
            channels_last = isinstance(self.student, ImageClassifier)
        self.channels_last = bool(channels_last)
        if self.channels_last:
            self.to(memory_format=torch.channels_last)
        if not isinstance(compile_connectors, (bool, dict)):
            raise TypeError(f'model.compile_connectors must be a bool or a dict of '
                            f'torch.compile arguments, got {compile_connectors!r}')
        if compile_connectors:
            kwargs = compile_connectors if isinstance(compile_connectors, dict) else {}
            for connector in self.distiller.connectors.values():
                connector.compile(**kwargs)

    def teacher_grad_context(self):
        """The context of the frozen teacher's forward: ``no_grad`` or ``inference_mode``."""
        if self.teacher_grad_mode == 'inference_mode':
            return torch.inference_mode()
        return torch.no_grad()

    def _release_teacher_records(self, outputs: Any = None) -> Any:
        """Clone inference-mode teacher records (and ``outputs``, the teacher's return value if
        the caller uses it) into tensors autograd may save; returns ``outputs``."""
        if self.teacher_grad_mode != 'inference_mode':
            return outputs
        for recorder in self.distiller.teacher_recorders.recorders.values():
            if hasattr(recorder, 'clone_records'):
                recorder.clone_records()
            else:
                recorder._data_buffer = [clone_tensors(d) for d in recorder.data_buffer]
        return clone_tensors(outputs)

    # ---------------------------------------------------------------- build time
    def set_module_inplace_false(self, architecture, varstr: str) -> None:
        """MMRazor's walk over ``_modules`` misses everything on torch >= 2.5; walk modules()."""
        if isinstance(architecture, nn.Module):
            disable_inplace(architecture)

    def _dry_forward(self, model: nn.Module, x: Tensor) -> None:
        if hasattr(model, 'extract_feat') and not hasattr(model, 'head'):
            model.extract_feat(x)
        else:
            model(x, None, mode='tensor')

    @torch.no_grad()
    def _infer_and_build_connectors(self) -> Dict[str, Dict[str, ShapeList]]:
        """Dry-forward student and teacher, read every recorder, build shape-aware connectors."""
        distiller = self.distiller
        needed = [(name, c) for name, c in distiller.connectors.items()
                  if hasattr(c, 'build_chain')]
        if not needed:
            return {}
        x = torch.zeros(2, *self.input_shape)
        modes = (self.student.training, self.teacher.training)
        self.student.eval()
        self.teacher.eval()
        try:
            with distiller.student_recorders:
                self._dry_forward(self.student, x)
            with distiller.teacher_recorders:
                self._dry_forward(self.teacher, x)
        except RuntimeError as e:
            raise ValueError(
                f'model.input_shape={self.input_shape}: the dry forward used to infer feature '
                f'shapes failed ({e}). Set `input_shape` to the (C, H, W) your data pipeline '
                'produces.') from e
        finally:
            self.student.train(modes[0])
            self.teacher.train(modes[1])

        shapes: Dict[str, Dict[str, ShapeList]] = {}
        for loss_name, mapping in distiller.loss_forward_mappings.items():
            s_rec = [r for r in mapping.values() if r.get('from_student')
                     and r.get('connector') in dict(needed)]
            t_rec = [r for r in mapping.values() if not r.get('from_student')]
            for rec in s_rec:
                key = f'model.distiller.connectors.{rec["connector"]}'
                if len(t_rec) != 1:
                    raise ValueError(
                        f'model.distiller.loss_forward_mappings.{loss_name}: a shape-inferred '
                        f'connector needs exactly one teacher record in the same loss, got '
                        f'{len(t_rec)}.')
                s_data = distiller.student_recorders.get_recorder(rec['recorder'])
                t_data = distiller.teacher_recorders.get_recorder(t_rec[0]['recorder'])
                s_shapes = _shapes(s_data.get_record_data(rec.get('record_idx', 0),
                                                          rec.get('data_idx')))
                t_shapes = _shapes(t_data.get_record_data(t_rec[0].get('record_idx', 0),
                                                          t_rec[0].get('data_idx')))
                distiller.connectors[rec['connector']].build_chain(s_shapes, t_shapes, key=key)
                shapes[rec['connector']] = dict(student=s_shapes, teacher=t_shapes)
                MMLogger.get_current_instance().info(
                    f'{key}: student features {s_shapes} -> teacher features {t_shapes}')
        return shapes

    def _setup_teacher_preprocess(self, cfg: dict) -> None:
        dp = self.data_preprocessor
        if not getattr(dp, '_enable_normalize', False):
            raise ValueError('model.teacher_preprocess needs the student\'s data_preprocessor to '
                             'normalise (mean/std), so that its normalisation can be undone.')
        unknown = set(cfg) - {'mean', 'std', 'bgr_to_rgb', 'rgb_to_bgr'}
        if unknown or 'mean' not in cfg or 'std' not in cfg:
            raise ValueError(f'model.teacher_preprocess must be dict(mean=..., std=..., '
                             f'bgr_to_rgb=bool), got keys {sorted(cfg)}')
        c = dp.mean.shape[0]
        mean = torch.tensor(cfg['mean'], dtype=torch.float32).view(-1, 1, 1)
        std = torch.tensor(cfg['std'], dtype=torch.float32).view(-1, 1, 1)
        if mean.shape[0] != c or std.shape[0] != c:
            raise ValueError(f'model.teacher_preprocess mean/std need {c} values')
        self.register_buffer('teacher_mean', mean, persistent=False)
        self.register_buffer('teacher_std', std, persistent=False)
        # Whether the teacher's channel order differs from the student's (which may already
        # have flipped BGR -> RGB).
        student_flip = bool(getattr(dp, '_channel_conversion', False))
        teacher_flip = bool(cfg.get('bgr_to_rgb', False) or cfg.get('rgb_to_bgr', False))
        self.teacher_flip = student_flip != teacher_flip
        self.teacher_preprocess = dict(cfg)

    def teacher_inputs(self, batch_inputs: Tensor, data_samples=None) -> Tensor:
        """The teacher's view of a batch: the student's normalisation undone and the teacher's
        applied (identity without ``teacher_preprocess``).

        Args:
            batch_inputs (Tensor): (N, C, H, W) inputs as the student's preprocessor made them.
            data_samples (list, optional): With ``img_shape`` metainfo, to keep padding at 0.

        Returns:
            Tensor: (N, C, H, W) inputs normalised the teacher's way.
        """
        if self.teacher_preprocess is None:
            return batch_inputs
        dp = self.data_preprocessor
        raw = batch_inputs * dp.std + dp.mean  # in the student's channel order
        if self.teacher_flip:
            raw = raw.flip(1)
        x = (raw - self.teacher_mean) / self.teacher_std
        if data_samples is not None:
            pad = torch.ones_like(x[:, :1], dtype=torch.bool)
            for i, sample in enumerate(data_samples):
                shape = sample.metainfo.get('img_shape')
                if shape is None:
                    pad[i] = False
                    continue
                pad[i, :, :shape[0], :shape[1]] = False
            x = x.masked_fill(pad, 0.0)
        return x

    # ----------------------------------------------------------------- training
    def _run_teacher(self, batch_inputs: Tensor, data_samples) -> None:
        batch_inputs = self.teacher_inputs(batch_inputs, data_samples)
        mode = self.teacher_forward
        if mode == 'auto':
            mode = 'tensor' if hasattr(self.teacher, 'head') else 'extract_feat'
        if mode == 'extract_feat':
            self.teacher.extract_feat(batch_inputs)
        else:
            self.teacher(batch_inputs, data_samples, mode=mode)

    def loss(self, batch_inputs: Tensor, data_samples: Optional[list] = None) -> Dict[str, Tensor]:
        """Teacher forward (no grad), student forward with its task loss, distillation losses.

        Args:
            batch_inputs (Tensor): Preprocessed images, (N, C, H, W).
            data_samples (list, optional): Data samples with the labels.

        Returns:
            dict[str, Tensor]: ``student.*`` task losses and ``distill.*`` losses.
        """
        losses: Dict[str, Tensor] = {}
        self.distiller.set_deliveries_override(False)
        if self.teacher_trainable:
            with self.distiller.teacher_recorders, self.distiller.deliveries:
                teacher_losses = self.teacher(batch_inputs, data_samples, mode='loss')
            losses.update(add_prefix(teacher_losses, 'teacher'))
        else:
            with self.distiller.teacher_recorders, self.distiller.deliveries:
                with self.teacher_grad_context():
                    self._run_teacher(batch_inputs, data_samples)
            self._release_teacher_records()

        self.distiller.set_deliveries_override(True)
        with self.distiller.student_recorders, self.distiller.deliveries:
            if self.calculate_student_loss:
                student_losses = self.student(batch_inputs, data_samples, mode='loss')
                losses.update(add_prefix(student_losses, 'student'))
            else:
                self.student(batch_inputs, data_samples, mode='loss')

        if not self.distillation_stopped:
            distill_losses = self.distiller.compute_distill_losses()
            self._check_finite(distill_losses)
            losses.update(add_prefix(distill_losses, 'distill'))
        return losses

    def _check_finite(self, losses: Dict[str, Tensor]) -> None:
        """Stop with a message (instead of corrupting the weights) on a NaN/inf loss."""
        if not self.check_finite:
            return
        for name, value in losses.items():
            if isinstance(value, Tensor) and not torch.isfinite(value).all():
                raise FloatingPointError(
                    f'distillation loss `{name}` is {value.item()}: stopping before it '
                    f'corrupts the weights. Lower its weight (model.distiller.distill_losses / '
                    f'model.tskd_loss) or the learning rate, and check the inputs.')

    def forward(self, inputs: Tensor, data_samples=None, mode: str = 'tensor'):
        """Check the input channels, then MMRazor's forward (loss / predict / tensor)."""
        if isinstance(inputs, Tensor) and inputs.dim() == 4 and \
                inputs.shape[1] != self.input_shape[0]:
            raise ValueError(
                f'the images have {inputs.shape[1]} channels but the model expects '
                f'{self.input_shape[0]} (model.input_shape={self.input_shape}). Convert the '
                'images (e.g. grayscale -> RGB in the pipeline) or set the backbones\' '
                '`in_channels`, the data_preprocessor mean/std and `model.input_shape` to match.')
        if self.channels_last and isinstance(inputs, Tensor) and inputs.dim() == 4:
            inputs = inputs.contiguous(memory_format=torch.channels_last)
        return super().forward(inputs, data_samples, mode)

    def train(self, mode: bool = True) -> 'ReviewKDDistill':
        """Switch train/eval; the teacher stays in eval mode when ``teacher_eval``."""
        super().train(mode)
        if self.teacher_eval:
            self.teacher.eval()
        return self
