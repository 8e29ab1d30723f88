"""Writing the student of a distillation checkpoint as a plain MMPretrain/MMDet checkpoint."""
import os
import os.path as osp
from typing import Dict, Optional

import torch

DROPPED_PREFIXES = ('teacher.', 'distiller.', 'data_preprocessor.')


def extract_student_state_dict(state_dict: Dict[str, torch.Tensor],
                               student_prefix: str = 'architecture.') -> Dict[str, torch.Tensor]:
    """Keep the student's weights and strip their prefix.

    Args:
        state_dict (dict): A distillation algorithm's state dict (``architecture.*``,
            ``teacher.*``, ``distiller.*`` ...).
        student_prefix (str): Prefix of the student's keys. Defaults to ``'architecture.'``.

    Returns:
        dict: The student's state dict, loadable into the plain model.

    Raises:
        KeyError: If no key has ``student_prefix`` (not a distillation checkpoint).
    """
    student = {k[len(student_prefix):]: v for k, v in state_dict.items()
               if k.startswith(student_prefix)}
    if not student:
        prefixes = sorted({k.split('.', 1)[0] for k in state_dict})
        raise KeyError(f'no key starts with {student_prefix!r}: this does not look like a '
                       f'distillation checkpoint (top-level prefixes: {prefixes}).')
    return student


def export_student(src: str, dst: str, student_prefix: str = 'architecture.',
                   meta: Optional[dict] = None) -> Dict[str, torch.Tensor]:
    """Read a distillation checkpoint and write its student alone.

    The output has ``state_dict`` (no teacher, distiller/connector or optimizer entries) and a
    small ``meta`` (source checkpoint, epoch/iter, dataset meta when present). It is written to a
    temporary file and renamed, so an interrupted export never leaves a truncated file.

    Args:
        src (str): The distillation checkpoint.
        dst (str): Where to write the student checkpoint.
        student_prefix (str): Prefix of the student's keys. Defaults to ``'architecture.'``.
        meta (dict, optional): Extra meta information to store.

    Returns:
        dict: The student's state dict.
    """
    ckpt = torch.load(src, map_location='cpu', weights_only=True)
    state_dict = ckpt.get('state_dict', ckpt)
    student = extract_student_state_dict(state_dict, student_prefix)
    src_meta = ckpt.get('meta', {}) if isinstance(ckpt, dict) else {}
    out_meta = dict(source=osp.abspath(src))
    for key in ('epoch', 'iter', 'dataset_meta', 'mmengine_version'):
        if key in src_meta:
            out_meta[key] = src_meta[key]
    out_meta.update(meta or {})
    os.makedirs(osp.dirname(osp.abspath(dst)), exist_ok=True)
    tmp = dst + '.tmp'
    torch.save(dict(meta=out_meta, state_dict=student), tmp)
    os.replace(tmp, dst)
    return student
