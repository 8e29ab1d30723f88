from .ensemble import VOTE_RULES, check_vote_rule, early_exit, ensemble_vote, exit_thresholds
from .shape_inference import dry_forward, record_shapes
from .teacher_normalization import TeacherNormalization

__all__ = [
    'VOTE_RULES', 'TeacherNormalization', 'check_vote_rule', 'dry_forward', 'early_exit',
    'ensemble_vote', 'exit_thresholds', 'record_shapes'
]
