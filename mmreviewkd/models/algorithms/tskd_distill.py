"""TSKD: teacher-student collaborative distillation with a multi-exit student."""
from typing import Dict, Optional

import torch
from mmrazor.models.utils import add_prefix
from torch import Tensor

from mmreviewkd.registry import MODELS
from .frozen_teacher_distill import FrozenTeacherDistill


@MODELS.register_module()
class TSKDDistill(FrozenTeacherDistill):
    """Teacher-student collaborative KD (Applied Intelligence 53(2), 2023).

    The student (``architecture``) is a :class:`MultiExitClassifier`. Every exit learns from the
    labels and from the teacher's logits; the shallower exits also learn from the student's own
    deepest exit (logits and pooled features). All terms and weights come from ``tskd_loss``
    (:class:`TSKDLoss`, BYOT defaults). The ``distiller`` can add feature losses on top, e.g.
    ReviewKD's ABF + HCL from the teacher (``configs/tskd/*reviewkd*``); by default it has none.

    Args:
        tskd_loss (dict): Config of the TSKD loss. Defaults to ``dict(type='TSKDLoss')``.
        distiller (dict, optional): MMRazor distiller for extra feature losses. Defaults to an
            empty ``ConfigurableDistiller``.
        **kwargs: :class:`FrozenTeacherDistill` arguments (``architecture``, ``teacher``,
            ``teacher_ckpt``, ``input_shape``, ...). ``teacher_trainable=True``,
            ``calculate_student_loss=False``, ``student_trainable=False`` and a
            ``teacher_forward`` other than ``'auto'`` are refused.
    """

    # options of the base classes that TSKD's loss path cannot honour: refused, not ignored
    UNSUPPORTED = dict(teacher_trainable=False, calculate_student_loss=True,
                       student_trainable=True, teacher_forward='auto')

    def __init__(self,
                 tskd_loss: Optional[dict] = None,
                 distiller: Optional[dict] = None,
                 **kwargs) -> None:
        for key, only in self.UNSUPPORTED.items():
            if key in kwargs and kwargs[key] != only:
                raise ValueError(
                    f'model.{key}={kwargs[key]!r} is not supported by TSKDDistill (its loss '
                    f'path always runs the frozen teacher for logits and trains every exit of '
                    f'the student); remove the key.')
        super().__init__(distiller=distiller or dict(type='ConfigurableDistiller'), **kwargs)
        if not hasattr(self.student, 'forward_exits'):
            raise TypeError(f'TSKDDistill: `architecture` must be a multi-exit classifier '
                            f'(type=\'mmreviewkd.MultiExitClassifier\'), got '
                            f'{type(self.student).__name__}')
        self.tskd_loss = MODELS.build(tskd_loss or dict(type='mmreviewkd.TSKDLoss'))

    def loss(self, batch_inputs: Tensor, data_samples: Optional[list] = None) -> Dict[str, Tensor]:
        """Teacher logits (no grad), every exit of the student, TSKD terms (+ distiller's).

        Args:
            batch_inputs (Tensor): (N, C, H, W) preprocessed images.
            data_samples (list): Samples with ``gt_label``.

        Returns:
            dict[str, Tensor]: ``tskd.loss_*_exit{k}`` and ``distill.*`` losses.
        """
        with self.distiller.teacher_recorders, self.distiller.deliveries:
            with self.teacher_grad_context():
                teacher_logits = self.teacher(self.teacher_inputs(batch_inputs, data_samples),
                                              data_samples, mode='tensor')
        teacher_logits = self.after_teacher_forward(teacher_logits)
        with self.distiller.student_recorders, self.distiller.deliveries:
            logits, feats = self.student.forward_exits(batch_inputs)
        labels = torch.cat([s.gt_label for s in data_samples]).to(batch_inputs.device)
        losses = add_prefix(self.tskd_loss(logits, feats, labels, teacher_logits), 'tskd')
        if self.distiller.loss_forward_mappings and not self.distillation_stopped:
            distill = self.distiller.compute_distill_losses()
            losses.update(add_prefix(distill, 'distill'))
        self.check_finite_losses(losses)
        return losses
