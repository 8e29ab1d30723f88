"""Combining the predictions of a multi-exit network: ensemble votes and early exit."""
import math
from numbers import Real
from typing import Optional, Sequence, Tuple, Union

import torch
from torch import Tensor

VOTE_RULES = ('soft', 'hard', 'weighted', 'exit')


def check_vote_rule(rule: str, key: str = 'vote') -> None:
    """Raise a helpful error for an unknown vote rule."""
    if rule not in VOTE_RULES:
        raise ValueError(f'{key}={rule!r} is not a vote rule; use one of {VOTE_RULES} '
                         '(soft: mean of probabilities, hard: majority of the exits\' classes, '
                         'weighted: weighted mean of probabilities, exit: one exit).')


def ensemble_vote(probs: Tensor,
                  rule: str = 'soft',
                  weights: Optional[Sequence[float]] = None,
                  exit_index: int = -1) -> Tensor:
    """Combine the class probabilities of K exits.

    Args:
        probs (Tensor): (K, N, C) softmax probabilities, shallow -> deep.
        rule (str): ``'soft'`` (mean of probabilities), ``'hard'`` (majority vote of the exits'
            argmax; ties go to the class with the higher mean probability), ``'weighted'``
            (``weights``-weighted mean of probabilities) or ``'exit'`` (``exit_index`` alone).
        weights (Sequence[float], optional): K non-negative weights for ``'weighted'``.
        exit_index (int): The exit used by ``'exit'``. Defaults to -1 (deepest).

    Returns:
        Tensor: (N, C) scores; for ``'hard'`` the vote fractions (plus a < 1e-3 tie-break).
    """
    check_vote_rule(rule)
    k = probs.shape[0]
    if rule == 'soft':
        return probs.mean(0)
    if rule == 'exit':
        return probs[exit_index]
    if rule == 'weighted':
        if weights is None or len(weights) != k:
            raise ValueError(f'vote="weighted" needs `vote_weights` with {k} entries (one per '
                             f'exit), got {weights}')
        values = [float(v) for v in weights]  # checked in Python: traceable for ONNX export
        if min(values) < 0 or sum(values) <= 0:
            raise ValueError(f'vote_weights must be non-negative and not all 0, got {weights}')
        w = torch.tensor(values, dtype=probs.dtype, device=probs.device) / sum(values)
        return (probs * w.view(k, 1, 1)).sum(0)
    # hard majority
    votes = torch.nn.functional.one_hot(probs.argmax(-1), probs.shape[-1]).to(probs.dtype)
    fractions = votes.sum(0) / k
    return fractions + 1e-4 * probs.mean(0)


Threshold = Union[float, Sequence[float]]


def exit_thresholds(threshold: Threshold, num_exits: int,
                    key: str = 'early_exit_threshold') -> Tuple[float, ...]:
    """One confidence threshold per exit, shallow -> deep.

    Args:
        threshold (float | Sequence[float]): One number for every exit, or one per exit:
            ``num_exits`` values, or ``num_exits - 1`` for the shallow exits only (the deepest
            exit then never answers alone; samples that reach it get the fallback vote).
        num_exits (int): K, the number of exits.
        key (str): Config key named in errors.

    Returns:
        tuple[float]: K thresholds (``inf`` = never answers alone).

    Raises:
        ValueError: for a threshold that is not a number, NaN, or a list of the wrong length.
    """
    values = [threshold] if isinstance(threshold, Real) else threshold
    if not isinstance(values, (list, tuple)) or not all(
            isinstance(v, Real) and not isinstance(v, bool) and not math.isnan(v)
            for v in values):
        raise ValueError(f'{key}={threshold!r}: give a number (one threshold for every exit) or '
                         f'a list of {num_exits} (one per exit) or {num_exits - 1} numbers (the '
                         f'shallow exits; the deepest then falls back to the vote).')
    if len(values) == 1 and isinstance(threshold, Real):
        return tuple(float(threshold) for _ in range(num_exits))
    if len(values) == num_exits - 1:
        return tuple(float(v) for v in values) + (math.inf, )
    if len(values) == num_exits:
        return tuple(float(v) for v in values)
    raise ValueError(f'{key}={list(values)} has {len(values)} thresholds; the model has '
                     f'{num_exits} exits: give {num_exits} (one per exit), {num_exits - 1} (the '
                     f'shallow exits) or a single number.')


def early_exit(probs: Tensor,
               threshold: Threshold,
               fallback: str = 'soft',
               weights: Optional[Sequence[float]] = None) -> Tuple[Tensor, Tensor]:
    """Per sample, take the first exit whose top probability reaches ``threshold``.

    Args:
        probs (Tensor): (K, N, C) probabilities, shallow -> deep.
        threshold (float | Sequence[float]): Confidence threshold, one for every exit or one per
            exit (see :func:`exit_thresholds`); 0 always takes the first exit, > 1 never exits
            early.
        fallback (str): What a sample that never reaches the threshold gets: a vote rule
            (``'soft'``, ``'hard'``, ``'weighted'``) over all exits, or ``'exit'`` = the deepest
            exit. Defaults to ``'soft'``.
        weights (Sequence[float], optional): Weights for a ``'weighted'`` fallback.

    Returns:
        tuple: (N, C) scores and (N,) index of the exit used (K for the fallback when it is an
        ensemble of all exits, K - 1 when it is the deepest exit).
    """
    k, n, _ = probs.shape
    thr = torch.tensor(exit_thresholds(threshold, k), dtype=probs.dtype, device=probs.device)
    confident = probs.max(-1).values >= thr.view(k, 1)  # (K, N)
    first = torch.where(confident.any(0), confident.float().argmax(0),
                        torch.full((n, ), -1, device=probs.device, dtype=torch.long))
    fallback_scores = ensemble_vote(probs, fallback, weights, exit_index=-1)
    idx = first.clamp(min=0)
    chosen = probs[idx, torch.arange(n, device=probs.device)]
    scores = torch.where((first >= 0).unsqueeze(-1), chosen, fallback_scores)
    used = torch.where(first >= 0, first,
                       torch.full_like(first, k - 1 if fallback == 'exit' else k))
    return scores, used
