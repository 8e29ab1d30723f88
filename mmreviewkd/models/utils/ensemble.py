"""Combining the predictions of a multi-exit network: ensemble votes and early exit."""
from typing import Optional, Sequence, Tuple

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
        w = torch.as_tensor(weights, dtype=probs.dtype, device=probs.device)
        if (w < 0).any() or w.sum() <= 0:
            raise ValueError(f'vote_weights must be non-negative and not all 0, got {weights}')
        return (probs * w.view(k, 1, 1)).sum(0) / w.sum()
    # hard majority
    votes = torch.nn.functional.one_hot(probs.argmax(-1), probs.shape[-1]).to(probs.dtype)
    fractions = votes.sum(0) / k
    return fractions + 1e-4 * probs.mean(0)


def early_exit(probs: Tensor,
               threshold: float,
               fallback: str = 'soft',
               weights: Optional[Sequence[float]] = None) -> Tuple[Tensor, Tensor]:
    """Per sample, take the first exit whose top probability reaches ``threshold``.

    Args:
        probs (Tensor): (K, N, C) probabilities, shallow -> deep.
        threshold (float): Confidence threshold; 0 always takes the first exit, > 1 never exits
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
    confident = probs.max(-1).values >= threshold  # (K, N)
    first = torch.where(confident.any(0), confident.float().argmax(0),
                        torch.full((n, ), -1, device=probs.device, dtype=torch.long))
    fallback_scores = ensemble_vote(probs, fallback, weights, exit_index=-1)
    idx = first.clamp(min=0)
    chosen = probs[idx, torch.arange(n, device=probs.device)]
    scores = torch.where((first >= 0).unsqueeze(-1), chosen, fallback_scores)
    used = torch.where(first >= 0, first,
                       torch.full_like(first, k - 1 if fallback == 'exit' else k))
    return scores, used
