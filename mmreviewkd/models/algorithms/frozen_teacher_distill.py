"""``FrozenTeacherDistill``: what every frozen-teacher method of this package shares."""
import contextlib
from typing import Dict, Iterator, Optional, Sequence, Union

import torch
from mmrazor.models.algorithms.distill.configurable.single_teacher_distill import \
    SingleTeacherDistill
from mmrazor.models.utils import add_prefix
from torch import Tensor, nn

from mmreviewkd.registry import MODELS
from mmreviewkd.utils import (check_mmcv_ops_for_config, clone_tensors, disable_inplace,
                              load_teacher_checkpoint)
from ..utils.batchnorm_folding import BatchNormFolding
from ..utils.finite_guard import BufferSnapshot, raise_if_not_finite
from ..utils.shape_inference import ShapeList
from ..utils.teacher_normalization import TeacherNormalization
from .connector_shapes import build_connectors, recorded


TEACHER_FORWARDS = ('auto', 'tensor', 'extract_feat', 'loss')


@MODELS.register_module()
class FrozenTeacherDistill(SingleTeacherDistill):
    """Single-teacher distillation with a frozen teacher that computes only what distillation
    reads: the algorithm of the KD configs, and the shared base of ``ReviewKDDistill`` and
    ``TSKDDistill`` (siblings, as MMRazor's ``SingleTeacherDistill`` and ``SelfDistill`` are).

    One step (:meth:`loss`): teacher forward (no grad, recorded), student forward with its task
    loss (recorded), the distiller's connectors (ReviewKD's whole ABF chain once) and losses
    (HCL, KD ...). TSKD replaces the step with its own.

    On top of MMRazor's ``SingleTeacherDistill`` it

    * loads ``teacher_ckpt`` strictly (weights-only, ``module.`` prefixes and distillation
      checkpoints mapped); anything that does not fit fails the build naming the key;
    * keeps the whole teacher in eval mode and without gradients (unless
      ``teacher_trainable``), and turns every in-place op of student and teacher off (MMRazor's
      own walk does nothing on torch >= 2.5), so recorded tensors are never overwritten;
    * infers the recorded feature shapes with a dry forward on ``input_shape`` and builds every
      :class:`ShapeAwareConnector`; at every step those connectors get the teacher's spatial
      sizes of the batch, so no size is frozen at build time;
    * gives the teacher its own normalisation (``teacher_preprocess``,
      :class:`TeacherNormalization`);
    * stops on a NaN/inf loss with the model exactly as it was before the batch;
    * offers speed options that keep the losses (``channels_last``, ``teacher_fold_bn``,
      ``teacher_grad_mode``, ``compile_connectors``; measured in docs/results/step.json).

    Args:
        input_shape (Sequence[int]): (C, H, W) of the build-time dry forward and of the
            channel check of every batch. Defaults to (3, 32, 32).
        teacher_ckpt (str, optional): The teacher's checkpoint.
        teacher_preprocess (dict, optional): ``dict(mean=[...], std=[...], bgr_to_rgb=bool)``
            of the teacher, relative to the images as loaded. Defaults to None (the teacher
            sees the student's inputs).
        check_finite (bool): Stop on a NaN/inf loss (restoring BatchNorm statistics). Defaults
            to True.
        channels_last (bool, optional): ``channels_last`` memory format for student, teacher
            and connectors. ``None`` (default): on for MMPretrain classifiers, off for detectors
            (several mmcv ops assume NCHW-contiguous inputs).
        teacher_grad_mode (str): ``'no_grad'`` (default) or ``'inference_mode'``.
        compile_connectors (bool | dict): ``torch.compile`` every connector in place (state
            dict keys unchanged); a dict is passed to ``torch.compile``. With a connector in
            bfloat16 (``ReviewKDConnector(compute_dtype=...)``) compiled and eager agree only to
            bf16 rounding (the compiler fuses and rounds otherwise). Defaults to False.
        teacher_fold_bn (bool): Run the frozen teacher's conv -> BatchNorm pairs as one conv
            each, the BatchNorm folded into the conv's weights (same math up to float
            rounding; the model and its state dict are unchanged; see
            :class:`BatchNormFolding`). Off when the teacher is trainable. Defaults to True.
        teacher_forward (str): How far the teacher runs: ``'auto'`` (default: ``'tensor'`` if
            the teacher has a ``head``, i.e. classifiers: features + logits; else
            ``'extract_feat'``, i.e. detectors: backbone + neck), ``'tensor'``,
            ``'extract_feat'`` or ``'loss'``.
        pair_student_init (bool): Build the student first and initialise it from the random
            state right after its build, the state a run of the student alone initialises it
            from: with the same seed the student starts from the same weights as that run (and
            as every other method with this option), so seeds pair initialisation across
            methods. Off by default: on, it changes the student's initial weights (so the
            published runs, made without it, would not reproduce).
        **kwargs: ``SingleTeacherDistill`` arguments (``architecture``, ``teacher``,
            ``distiller``, ``teacher_trainable``, ``teacher_norm_eval`` ...).

    Raises:
        ValueError / TypeError: for an invalid option, naming its config key.
    """

    def __init__(self,
                 *args,
                 input_shape: Sequence[int] = (3, 32, 32),
                 teacher_ckpt: Optional[str] = None,
                 teacher_preprocess: Optional[dict] = None,
                 check_finite: bool = True,
                 channels_last: Optional[bool] = None,
                 teacher_grad_mode: str = 'no_grad',
                 compile_connectors: Union[bool, dict] = False,
                 pair_student_init: bool = False,
                 teacher_forward: str = 'auto',
                 teacher_fold_bn: bool = True,
                 **kwargs) -> None:
        if teacher_forward not in TEACHER_FORWARDS:
            raise ValueError(f'model.teacher_forward must be one of {TEACHER_FORWARDS}, got '
                             f'{teacher_forward!r}')
        self.teacher_forward = teacher_forward
        # an MMDetection student/teacher without mmcv's compiled ops: one clear error first
        check_mmcv_ops_for_config(dict(model={k: kwargs.get(k)
                                              for k in ('architecture', 'teacher')}))
        student_rng = None
        if pair_student_init:
            if not isinstance(kwargs.get('architecture'), dict):
                raise TypeError('model.pair_student_init needs `architecture` as a config dict')
            from mmrazor.registry import MODELS as RAZOR_MODELS
            kwargs['architecture'] = RAZOR_MODELS.build(kwargs['architecture'])
            student_rng = torch.random.get_rng_state()
        super().__init__(*args, teacher_ckpt=None, **kwargs)
        self._student_rng_state = student_rng
        self.teacher_preprocess = dict(teacher_preprocess) if teacher_preprocess else None
        self.teacher_normalization = (self._build_teacher_normalization(teacher_preprocess)
                                      if teacher_preprocess else None)
        if teacher_ckpt:
            load_teacher_checkpoint(self.teacher, teacher_ckpt)
            self.teacher._is_init = True  # init_weights() must not overwrite the weights
        self.teacher_ckpt = teacher_ckpt
        self.check_finite = check_finite
        self._buffers_before_step = BufferSnapshot()
        self.input_shape = tuple(input_shape)
        disable_inplace(self.student)
        disable_inplace(self.teacher)
        self.feature_shapes = self._infer_and_build_connectors()
        if not self.teacher_trainable:
            self.teacher.eval()
        self._setup_speed(channels_last, teacher_grad_mode, compile_connectors)
        self._setup_teacher_fold_bn(teacher_fold_bn)

    # ------------------------------------------------------------------ build
    def init_weights(self) -> None:
        """MMEngine's initialisation; with ``pair_student_init`` the student first, drawing
        from the random state saved after its build (the rest continues the outer stream), in
        the contiguous format a student alone has (random fills follow the memory order)."""
        if self._student_rng_state is not None and not self.student.is_init:
            outer = torch.random.get_rng_state()
            torch.random.set_rng_state(self._student_rng_state)
            self.student.to(memory_format=torch.contiguous_format)
            self.student.init_weights()
            if self.channels_last:
                self.student.to(memory_format=torch.channels_last)
            torch.random.set_rng_state(outer)
        super().init_weights()

    def _build_teacher_normalization(self, cfg: dict) -> TeacherNormalization:
        dp = self.data_preprocessor
        if not getattr(dp, '_enable_normalize', False):
            raise ValueError('model.teacher_preprocess needs the student\'s data_preprocessor to '
                             'normalise (mean/std), so that its normalisation can be undone.')
        unknown = set(cfg) - {'mean', 'std', 'bgr_to_rgb', 'rgb_to_bgr'}
        if unknown or 'mean' not in cfg or 'std' not in cfg:
            raise ValueError(f'model.teacher_preprocess must be dict(mean=..., std=..., '
                             f'bgr_to_rgb=bool), got keys {sorted(cfg)}')
        return TeacherNormalization(
            dp.mean, dp.std, bool(getattr(dp, '_channel_conversion', False)), cfg['mean'],
            cfg['std'], bool(cfg.get('bgr_to_rgb', False) or cfg.get('rgb_to_bgr', False)))

    def _setup_speed(self, channels_last: Optional[bool], teacher_grad_mode: str,
                     compile_connectors: Union[bool, dict]) -> None:
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

    def _setup_teacher_fold_bn(self, teacher_fold_bn: bool) -> None:
        if not isinstance(teacher_fold_bn, bool):
            raise TypeError(f'model.teacher_fold_bn must be a bool, got {teacher_fold_bn!r}')
        self.teacher_fold_bn = teacher_fold_bn and not self.teacher_trainable
        self._teacher_bn_folding: Optional[BatchNormFolding] = None
        if self.teacher_fold_bn:
            x = torch.randn(2, *self.input_shape)
            if self.channels_last:
                x = x.contiguous(memory_format=torch.channels_last)
            self._teacher_bn_folding = BatchNormFolding(
                self.teacher, lambda: self._dry_teacher_forward(x))

    def _teacher_mode(self) -> str:
        """``teacher_forward`` with ``'auto'`` resolved (``'tensor'`` with a head, else
        ``'extract_feat'``)."""
        if self.teacher_forward != 'auto':
            return self.teacher_forward
        return 'tensor' if hasattr(self.teacher, 'head') else 'extract_feat'

    def _dry_teacher_forward(self, x: Tensor):
        """The teacher's forward as every step runs it, without data samples (``'loss'``
        needs them, so it runs as ``'tensor'``)."""
        if self._teacher_mode() == 'extract_feat':
            return self.teacher.extract_feat(x)
        return self.teacher(x, None, mode='tensor')

    def set_module_inplace_false(self, architecture, varstr: str) -> None:
        """MMRazor's walk over ``_modules`` misses everything on torch >= 2.5; walk modules()."""
        if isinstance(architecture, nn.Module):
            disable_inplace(architecture)

    def _infer_and_build_connectors(self) -> Dict[str, Dict[str, ShapeList]]:
        """Build every shape-aware connector from a dry forward (:func:`build_connectors`)."""
        shapes, self._connector_teacher_records = build_connectors(
            self.student, self.teacher, self.distiller, self.input_shape)
        return shapes

    # ------------------------------------------------------------------ every step
    @contextlib.contextmanager
    def teacher_grad_context(self) -> Iterator[None]:
        """The context of the frozen teacher's forward: ``no_grad`` or ``inference_mode``, with
        its BatchNorms folded into the convs (``teacher_fold_bn``)."""
        grad_mode = (torch.inference_mode() if self.teacher_grad_mode == 'inference_mode' else
                     torch.no_grad())
        folding = (self._teacher_bn_folding.active(self.teacher)
                   if self._teacher_bn_folding is not None
                   else contextlib.nullcontext())
        with grad_mode, folding:
            yield

    def teacher_inputs(self, batch_inputs: Tensor, data_samples=None) -> Tensor:
        """The teacher's view of a batch (identity without ``teacher_preprocess``).

        Args:
            batch_inputs (Tensor): (N, C, H, W) inputs as the student's preprocessor made them.
            data_samples (list, optional): With ``img_shape`` metainfo, to keep padding at 0.
        """
        if self.teacher_normalization is None:
            return batch_inputs
        return self.teacher_normalization(batch_inputs, data_samples)

    def after_teacher_forward(self, outputs=None):
        """Once the teacher ran: clone inference-mode records (and ``outputs``) into tensors
        autograd may save, and give shape-aware connectors the teacher's sizes of this batch.
        Returns ``outputs``."""
        if self.teacher_grad_mode == 'inference_mode':
            for recorder in self.distiller.teacher_recorders.recorders.values():
                if hasattr(recorder, 'clone_records'):
                    recorder.clone_records()
                else:
                    recorder._data_buffer = [clone_tensors(d) for d in recorder.data_buffer]
            outputs = clone_tensors(outputs)
        for name, rec in self._connector_teacher_records.items():
            data = recorded(self.distiller.teacher_recorders, rec)
            items = data if isinstance(data, (list, tuple)) else [data]
            self.distiller.connectors[name].set_teacher_sizes([tuple(t.shape[-2:])
                                                               for t in items])
        return outputs

    def check_finite_losses(self, losses: Dict[str, Tensor]) -> None:
        """Stop on a NaN/inf loss with the model as it was before the batch
        (:func:`raise_if_not_finite`; off with ``check_finite=False``).

        Raises:
            FloatingPointError: naming the first non-finite loss.
        """
        if self.check_finite:
            raise_if_not_finite(losses, self._buffers_before_step)

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
        if mode == 'loss' and self.check_finite:
            # every buffer a training forward may change: BN statistics of the student and
            # the connectors (the teacher's too if it is trainable)
            self._buffers_before_step.take([self.student, self.distiller] +
                                           ([self.teacher] if self.teacher_trainable else []))
        return super().forward(inputs, data_samples, mode)

    def train(self, mode: bool = True) -> 'FrozenTeacherDistill':
        """Switch train/eval; a frozen teacher stays in eval mode."""
        super().train(mode)
        if not self.teacher_trainable:
            self.teacher.eval()
        return self

    def _run_teacher(self, batch_inputs: Tensor, data_samples) -> None:
        batch_inputs = self.teacher_inputs(batch_inputs, data_samples)
        mode = self._teacher_mode()
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

        Raises:
            FloatingPointError: on a NaN/inf loss (see ``check_finite_losses``).
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
        self.after_teacher_forward()

        self.distiller.set_deliveries_override(True)
        with self.distiller.student_recorders, self.distiller.deliveries:
            if self.calculate_student_loss:
                student_losses = self.student(batch_inputs, data_samples, mode='loss')
                losses.update(add_prefix(student_losses, 'student'))
            elif self.student_trainable:  # features only (MMRazor's semantics)
                self.student(batch_inputs, data_samples, mode='tensor')
            else:
                with torch.no_grad():
                    self.student(batch_inputs, data_samples, mode='tensor')

        if not self.distillation_stopped:
            distill_losses = self.distiller.compute_distill_losses()
            losses.update(add_prefix(distill_losses, 'distill'))
        self.check_finite_losses(losses)
        return losses
