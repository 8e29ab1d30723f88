"""``ReviewKDDistill``: single-teacher feature distillation with a frozen teacher that computes
only what distillation reads (ReviewKD's ABF + HCL, and any MMRazor distiller)."""
from typing import Dict, Optional

import torch
from mmrazor.models.utils import add_prefix
from torch import Tensor

from mmreviewkd.registry import MODELS
from .frozen_teacher_distill import FrozenTeacherDistill

TEACHER_FORWARDS = ('auto', 'tensor', 'extract_feat', 'loss')


@MODELS.register_module()
class ReviewKDDistill(FrozenTeacherDistill):
    """ReviewKD (Chen et al., CVPR 2021) and, through MMRazor's ``ConfigurableDistiller``, any
    feature / logit distillation of one frozen teacher into an MMPretrain classifier or MMDet
    detector.

    One step: teacher forward (no grad, recorded), student forward with its task loss
    (recorded), the distiller's connectors (the whole ABF chain once) and losses (HCL, KD ...).
    Everything shared with TSKD (teacher loading, shape inference, non-finite stop, speed
    options) is documented in :class:`FrozenTeacherDistill`.

    Args:
        teacher_forward (str): How far the teacher runs: ``'auto'`` (default: ``'tensor'`` if
            the teacher has a ``head``, i.e. classifiers: features + logits; else
            ``'extract_feat'``, i.e. detectors: backbone + neck), ``'tensor'``,
            ``'extract_feat'`` or ``'loss'``.
        **kwargs: :class:`FrozenTeacherDistill` and ``SingleTeacherDistill`` arguments
            (``architecture``, ``teacher``, ``distiller``, ``teacher_ckpt``, ``input_shape``,
            ``calculate_student_loss``, ``student_trainable`` ...).

    Raises:
        ValueError: for an unknown ``teacher_forward``.
    """

    def __init__(self, *args, teacher_forward: str = 'auto', **kwargs) -> None:
        if teacher_forward not in TEACHER_FORWARDS:
            raise ValueError(f'model.teacher_forward must be one of {TEACHER_FORWARDS}, got '
                             f'{teacher_forward!r}')
        self.teacher_forward = teacher_forward
        super().__init__(*args, **kwargs)

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
