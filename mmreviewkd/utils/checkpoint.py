"""Loading a teacher checkpoint strictly, with errors that name the config key."""
import os.path as osp
from typing import Dict

import torch
from torch import nn


def _shorten(keys, n: int = 5) -> str:
    keys = sorted(keys)
    more = f' ... (+{len(keys) - n} more)' if len(keys) > n else ''
    return ', '.join(keys[:n]) + more


def load_teacher_checkpoint(teacher: nn.Module, path: str,
                            key: str = 'model.teacher_ckpt') -> Dict[str, torch.Tensor]:
    """Load ``path`` into ``teacher`` under weights-only loading, refusing partial matches.

    MMRazor's ``SingleTeacherDistill`` loads non-strictly: a checkpoint of another architecture
    only logs warnings and the student is then distilled from a randomly initialised teacher.
    Here every problem stops the build with the config key and the fix.

    Args:
        teacher (nn.Module): The built teacher.
        path (str): Checkpoint file (a plain model's, or ``state_dict`` inside).
        key (str): The config key, for error messages.

    Returns:
        dict: The loaded state dict.

    Raises:
        FileNotFoundError: The file does not exist.
        ValueError: The file is not a readable checkpoint, or its keys/shapes do not match.
    """
    if not osp.isfile(path):
        raise FileNotFoundError(
            f'{key}={path!r}: no such file. Train the teacher with its config (e.g. '
            'configs/fashion_mnist/resnet56_fmnist.py), export it with '
            "tools/model_converters/export_student.py --prefix '' and point the key at it.")
    try:
        ckpt = torch.load(path, map_location='cpu', weights_only=True)
    except Exception as e:  # corrupt, truncated, or refused by weights-only loading
        raise ValueError(f'{key}={path!r} could not be read as a checkpoint '
                         f'({type(e).__name__}: {str(e).splitlines()[0][:200]}). Re-create or '
                         're-download it.') from e
    state = ckpt.get('state_dict', ckpt) if isinstance(ckpt, dict) else None
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor)
                                              for v in state.values()):
        raise ValueError(f'{key}={path!r} holds no state dict of tensors.')
    if any(k.startswith('architecture.') for k in state) and not any(
            k.startswith('backbone.') for k in state):
        raise ValueError(f'{key}={path!r} is a distillation checkpoint; export its student first '
                         '(tools/model_converters/export_student.py) and use that file.')
    own = teacher.state_dict()
    missing = [k for k in own if k not in state]
    unexpected = [k for k in state if k not in own]
    wrong = [f'{k} {tuple(state[k].shape)} vs {tuple(own[k].shape)}' for k in own
             if k in state and state[k].shape != own[k].shape]
    if missing or unexpected or wrong:
        parts = []
        if missing:
            parts.append(f'{len(missing)} missing keys ({_shorten(missing)})')
        if unexpected:
            parts.append(f'{len(unexpected)} unexpected keys ({_shorten(unexpected)})')
        if wrong:
            parts.append(f'{len(wrong)} shape mismatches ({_shorten(wrong, 3)})')
        raise ValueError(f'{key}={path!r} does not fit `model.teacher`: ' + '; '.join(parts) +
                         '. The checkpoint belongs to another architecture: fix model.teacher '
                         'or the checkpoint path.')
    teacher.load_state_dict(state, strict=True)
    return state
