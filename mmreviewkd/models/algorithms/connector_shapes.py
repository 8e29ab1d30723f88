"""Building shape-aware connectors from the feature shapes a dry forward records."""
from typing import Any, Dict, Sequence, Tuple

from mmengine.logging import MMLogger
from torch import Tensor, nn

from ..connectors.shape_aware_connector import ShapeAwareConnector
from ..utils.shape_inference import ShapeList, dry_forward, record_shapes


def recorded(recorders: Any, rec: dict) -> Any:
    """The data one ``loss_forward_mappings`` entry reads from a recorder manager."""
    return recorders.get_recorder(rec['recorder']).get_record_data(
        rec.get('record_idx', 0), rec.get('data_idx'))


def _run_for_shapes(model: nn.Module, x: Tensor) -> None:
    if hasattr(model, 'extract_feat') and not hasattr(model, 'head'):
        model.extract_feat(x)  # a detector: backbone + neck
    else:
        model(x, None, mode='tensor')


def level_count_message(key: str, student: nn.Module, teacher: nn.Module, distiller: Any,
                        s_rec: dict, t_rec: dict, s_shapes: ShapeList,
                        t_shapes: ShapeList) -> str:
    """The error for student and teacher recording different numbers of levels, naming the
    config keys that decide the count on each side (``num_outs`` of an FPN-like neck,
    ``out_indices`` of a backbone, the recorder's ``stage_indices``)."""
    keys = []
    for side, model, rec, recorders in (('architecture', student, s_rec, 'student_recorders'),
                                        ('teacher', teacher, t_rec, 'teacher_recorders')):
        recorder = getattr(distiller, recorders).get_recorder(rec['recorder'])
        source = getattr(recorder, 'source', None)
        module = dict(model.named_modules()).get(source) if source else None
        if module is not None and hasattr(module, 'num_outs'):
            keys.append(f'`model.{side}.{source}.num_outs`')
        elif module is not None and hasattr(module, 'out_indices'):
            keys.append(f'`model.{side}.{source}.out_indices`')
        keys.append(f'`model.distiller.{recorders}.{rec["recorder"]}.stage_indices`')
    return (f'{key}: the student records {len(s_shapes)} feature levels {s_shapes} but the '
            f'teacher records {len(t_shapes)} {t_shapes}. Student and teacher must expose the '
            f'same number of levels: make these agree: {", ".join(keys)}.')


def build_connectors(student: nn.Module, teacher: nn.Module, distiller: Any,
                     input_shape: Sequence[int]) -> Tuple[Dict[str, Dict[str, ShapeList]],
                                                          Dict[str, dict]]:
    """Dry-forward student and teacher on ``input_shape``, read the recorders, and build every
    :class:`ShapeAwareConnector` of ``distiller``.

    Returns:
        tuple: ``{connector: dict(student=shapes, teacher=shapes)}`` and, per connector, the
        ``loss_forward_mappings`` entry of the teacher record it is matched with (read again at
        every step for the teacher's sizes).

    Raises:
        ValueError: naming the config keys, for a mapping without exactly one teacher record,
            different level counts, or shapes the connector cannot connect.
    """
    needed = {name for name, c in distiller.connectors.items()
              if isinstance(c, ShapeAwareConnector)}
    if not needed:
        return {}, {}

    def run(x: Tensor) -> None:
        with distiller.student_recorders:
            _run_for_shapes(student, x)
        with distiller.teacher_recorders:
            _run_for_shapes(teacher, x)

    dry_forward([student, teacher], input_shape, run)
    shapes: Dict[str, Dict[str, ShapeList]] = {}
    teacher_records: Dict[str, dict] = {}
    for loss_name, mapping in distiller.loss_forward_mappings.items():
        s_rec = [r for r in mapping.values() if r.get('from_student')
                 and r.get('connector') in needed]
        t_rec = [r for r in mapping.values() if not r.get('from_student')]
        for rec in s_rec:
            key = f'model.distiller.connectors.{rec["connector"]}'
            if len(t_rec) != 1:
                raise ValueError(
                    f'model.distiller.loss_forward_mappings.{loss_name}: a shape-inferred '
                    f'connector needs exactly one teacher record in the same loss, got '
                    f'{len(t_rec)}.')
            s_shapes = record_shapes(recorded(distiller.student_recorders, rec))
            t_shapes = record_shapes(recorded(distiller.teacher_recorders, t_rec[0]))
            if len(s_shapes) != len(t_shapes):
                raise ValueError(level_count_message(key, student, teacher, distiller, rec,
                                                     t_rec[0], s_shapes, t_shapes))
            distiller.connectors[rec['connector']].build_chain(s_shapes, t_shapes, key=key)
            shapes[rec['connector']] = dict(student=s_shapes, teacher=t_shapes)
            teacher_records[rec['connector']] = t_rec[0]
            MMLogger.get_current_instance().info(
                f'{key}: student features {s_shapes} -> teacher features {t_shapes}')
    return shapes, teacher_records
