"""Fitting a checkpoint to the model it is loaded into, strictly, with errors naming the key.

MMEngine and MMRazor load checkpoints non-strictly: a checkpoint that does not fit only logs
missing/unexpected keys, and the model goes on with random weights (e.g. evaluating a
distillation checkpoint with the plain student config scores a random network). Here every
checkpoint is either mapped onto the model or refused:

* a wrapper prefix (``module.``, from (Distributed)DataParallel) is stripped;
* a distillation checkpoint (``architecture.*``, ``teacher.*``, ``distiller.*``) loaded into a
  plain model gives its student (``architecture.*``);
* a plain model's checkpoint loaded into a distillation algorithm is loaded as its student;
* anything else that does not fit (missing, unexpected or mis-shaped keys) raises.
"""
import os.path as osp
from typing import Dict, Iterable, List, Mapping, Optional, Tuple

import torch
from torch import nn

StateDict = Dict[str, torch.Tensor]
WRAPPER_PREFIX = 'module.'
STUDENT_PREFIX = 'architecture.'
# what a distillation algorithm holds besides its student
ALGORITHM_PREFIXES = ('teacher.', 'distiller.', 'data_preprocessor.')


def _shorten(keys: Iterable[str], n: int = 5) -> str:
    keys = sorted(keys)
    more = f' ... (+{len(keys) - n} more)' if len(keys) > n else ''
    return ', '.join(keys[:n]) + more


def read_state_dict(path: str, key: str) -> StateDict:
    """Read a checkpoint's state dict with weights-only loading.

    Args:
        path (str): A checkpoint file (a dict with ``state_dict``, or a bare state dict).
        key (str): The config key or argument that named the file, for error messages.

    Raises:
        FileNotFoundError: The file does not exist.
        ValueError: The file is not a readable checkpoint or holds no state dict of tensors.
    """
    if not osp.isfile(path):
        raise FileNotFoundError(f'{key}={path!r}: no such file.')
    try:
        ckpt = torch.load(path, map_location='cpu', weights_only=True)
    except Exception as e:  # corrupt, truncated, or refused by weights-only loading
        raise ValueError(f'{key}={path!r} could not be read as a checkpoint '
                         f'({type(e).__name__}: {str(e).splitlines()[0][:200]}). Re-create or '
                         're-download it.') from e
    state = ckpt.get('state_dict', ckpt) if isinstance(ckpt, dict) else None
    if not isinstance(state, dict) or not state or not all(
            isinstance(v, torch.Tensor) for v in state.values()):
        raise ValueError(f'{key}={path!r} holds no state dict of tensors.')
    return state


def fit_state_dict(state: Mapping[str, torch.Tensor],
                   own: Mapping[str, torch.Tensor],
                   key: str,
                   target: str = 'the model',
                   optional_prefixes: Tuple[str, ...] = ()) -> Tuple[StateDict, List[str]]:
    """Map ``state`` onto a model whose state dict is ``own``, or refuse it.

    Args:
        state (Mapping[str, Tensor]): The checkpoint's state dict.
        own (Mapping[str, Tensor]): The model's state dict (names and shapes are used).
        key (str): Config key / argument naming the checkpoint, for messages.
        target (str): How messages name the model, e.g. ``'`model.teacher`'``.
        optional_prefixes (tuple[str]): Model keys that may be absent from the checkpoint
            (e.g. the teacher and connectors when only the student is evaluated).

    Returns:
        tuple: The mapped state dict and notes describing each mapping applied.

    Raises:
        ValueError: naming the missing / unexpected / mis-shaped keys and the fix.
    """
    notes: List[str] = []
    state = dict(state)
    while state and all(k.startswith(WRAPPER_PREFIX) for k in state):
        state = {k[len(WRAPPER_PREFIX):]: v for k, v in state.items()}
        notes.append(f'stripped the `{WRAPPER_PREFIX}` prefix of a (Distributed)DataParallel '
                     'checkpoint')
    own_is_algorithm = any(k.startswith(STUDENT_PREFIX) for k in own)
    state_is_algorithm = any(k.startswith(STUDENT_PREFIX) for k in state)
    if state_is_algorithm and not own_is_algorithm:
        state = {k[len(STUDENT_PREFIX):]: v for k, v in state.items()
                 if k.startswith(STUDENT_PREFIX)}
        notes.append('a distillation checkpoint: its student (`architecture.*`) is used; '
                     'the teacher and connector weights are ignored')
    elif own_is_algorithm and not state_is_algorithm:
        state = {STUDENT_PREFIX + k: v for k, v in state.items()}
        notes.append('a plain model checkpoint: loaded as the student (`architecture`)')
    missing = [k for k in own if k not in state and not k.startswith(optional_prefixes)]
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
        raise ValueError(f'{key} does not fit {target}: ' + '; '.join(parts) +
                         '. The checkpoint belongs to another architecture: use the config it '
                         f'was trained with, or fix {key}.')
    return state, notes


def load_teacher_checkpoint(teacher: nn.Module, path: str,
                            key: str = 'model.teacher_ckpt') -> StateDict:
    """Load ``path`` into ``teacher`` under weights-only loading, refusing partial matches.

    MMRazor's ``SingleTeacherDistill`` loads non-strictly: a checkpoint of another architecture
    only logs warnings and the student is then distilled from a randomly initialised teacher.
    Here the checkpoint is mapped (``module.`` prefix, the student of a distillation
    checkpoint) and every remaining problem stops the build with the config key and the fix.

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
    from mmengine.logging import MMLogger
    if not osp.isfile(path):
        raise FileNotFoundError(
            f'{key}={path!r}: no such file. Train the teacher with its config (e.g. '
            'configs/fashion_mnist/resnet56_fmnist.py), export it with '
            "tools/model_converters/export_student.py --prefix '' and point the key at it.")
    state, notes = fit_state_dict(read_state_dict(path, key), teacher.state_dict(),
                                  f'{key}={path!r}', '`model.teacher`')
    for note in notes:
        MMLogger.get_current_instance().info(f'{key}: {note}')
    teacher.load_state_dict(state, strict=True)
    return state


def load_checkpoint_strict(model: nn.Module, path: str, key: str = 'checkpoint',
                           optional_prefixes: Optional[Tuple[str, ...]] = None) -> List[str]:
    """Load ``path`` into ``model`` (mapped as :func:`fit_state_dict` does), refusing any
    checkpoint that does not fit.

    Args:
        model (nn.Module): A plain model or a distillation algorithm (unwrapped).
        path (str): The checkpoint file.
        key (str): The argument / config key naming it.
        optional_prefixes (tuple[str], optional): Model keys the checkpoint may lack. Defaults
            to the teacher and connectors of a distillation algorithm (evaluation uses only
            the student).

    Returns:
        list[str]: Notes on the mappings applied.
    """
    if optional_prefixes is None:
        optional_prefixes = ALGORITHM_PREFIXES
    own = model.state_dict()
    state, notes = fit_state_dict(read_state_dict(path, key), own, f'{key}={path!r}',
                                  f'the config\'s `model` ({type(model).__name__})',
                                  optional_prefixes)
    model.load_state_dict(state, strict=False)
    return notes
