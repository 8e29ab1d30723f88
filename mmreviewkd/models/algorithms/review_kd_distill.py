"""``ReviewKDDistill``: ReviewKD's algorithm, the frozen-teacher distillation of
:class:`FrozenTeacherDistill` under ReviewKD's name."""
from mmreviewkd.registry import MODELS
from .frozen_teacher_distill import FrozenTeacherDistill


@MODELS.register_module()
class ReviewKDDistill(FrozenTeacherDistill):
    """ReviewKD (Chen et al., CVPR 2021): the ABF review chain (``ReviewKDConnector``) and HCL
    (``HCLLoss``) in the ``distiller``, run by the frozen-teacher step of
    :class:`FrozenTeacherDistill` (teacher forward without gradients computing only what the
    distiller reads, student forward with its task loss, the whole ABF chain once, the losses).

    The step is generic: the ReviewKD + KD configs add MMRazor's ``KLDivergence`` to the same
    distiller, and plain KD configs use :class:`FrozenTeacherDistill` itself.

    Args:
        **kwargs: :class:`FrozenTeacherDistill` arguments (``architecture``, ``teacher``,
            ``distiller``, ``teacher_ckpt``, ``teacher_forward``, ``input_shape``,
            ``channels_last`` ...).
    """
