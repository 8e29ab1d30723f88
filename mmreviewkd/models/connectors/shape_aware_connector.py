"""The base of connectors that are built from the recorded feature shapes."""
from abc import abstractmethod
from typing import Sequence, Tuple

from mmrazor.models.architectures.connectors.base_connector import BaseConnector

Shape = Tuple[int, int, int]  # (C, H, W)


class ShapeAwareConnector(BaseConnector):
    """A connector whose layers depend on the student's and teacher's feature shapes.

    The distillation algorithm (``ReviewKDDistill``, ``TSKDDistill``) runs a dry forward at
    build time and calls :meth:`build_chain` with the recorded (C, H, W) of every level; at every
    training step it calls :meth:`set_teacher_sizes` with the teacher's spatial sizes of that
    batch, so that nothing frozen at build time depends on the input size (multi-scale training,
    random-resized crops, detection inputs).
    """

    @abstractmethod
    def build_chain(self, student_shapes: Sequence[Shape], teacher_shapes: Sequence[Shape],
                    key: str = 'connectors') -> None:
        """Build (or check) the layers from the recorded shapes, shallow -> deep.

        Raises:
            ValueError: naming ``key`` when the shapes cannot be connected.
        """

    def set_teacher_sizes(self, sizes: Sequence[Tuple[int, int]]) -> None:
        """The teacher's (H, W) per level for the current batch. Defaults to a no-op."""
