"""Fitting a multi-exit network's vote weights on a validation split.

An equal-weight vote over exits that are weaker than the deepest can fall below the deepest exit
alone. :func:`fit_vote_weights` searches the weights of the ``'weighted'`` vote (a weighted mean
of the exits' probabilities, :func:`mmreviewkd.models.utils.ensemble.ensemble_vote`) on a grid
over the simplex and keeps the most accurate on the given (validation) predictions. Every
one-hot weight vector (one exit alone) and the equal weights are candidates, so the fitted vote is
never less accurate than the best single exit or the equal-weight vote *on the data it was fitted
on*; fit on a held-out validation split and
report on the test set (docs/design.md, "Choices on validation").
"""
import itertools
from typing import Dict, List, Sequence

import numpy as np


def simplex_grid(num_exits: int, step: float = 0.1) -> np.ndarray:
    """All weight vectors with entries in ``{0, step, 2 step, ..., 1}`` that sum to 1.

    Args:
        num_exits (int): K >= 1.
        step (float): Grid spacing; ``1 / step`` must be a whole number. Defaults to 0.1.

    Returns:
        np.ndarray: (M, K) weights, one-hot vectors included.

    Raises:
        ValueError: for K < 1 or a step that does not divide 1.
    """
    parts = round(1.0 / step)
    if num_exits < 1 or parts < 1 or abs(parts * step - 1.0) > 1e-9:
        raise ValueError(f'simplex_grid needs num_exits >= 1 and a step dividing 1, got '
                         f'{num_exits} and {step}')
    rows = [c for c in itertools.product(range(parts + 1), repeat=num_exits) if sum(c) == parts]
    return np.asarray(rows, dtype=np.float64) / parts


def fit_vote_weights(exit_probs: np.ndarray, labels: Sequence[int],
                     step: float = 0.1) -> Dict[str, object]:
    """The vote weights with the highest accuracy on ``(exit_probs, labels)``.

    Ties in accuracy go to the weights with the lower negative log-likelihood of the vote.

    Args:
        exit_probs (np.ndarray): (K, N, C) probabilities of K exits (shallow -> deep) for N
            images.
        labels (Sequence[int]): (N,) true classes.
        step (float): Grid spacing of the weights. Defaults to 0.1 (66 grid points for K = 3,
            plus the equal weights).

    Returns:
        dict: ``weights`` (list of K floats summing to 1), ``accuracy`` (%) of the fitted vote,
        ``exit_accuracy`` (list of K per-exit accuracies, %), ``soft_accuracy`` (% of the
        equal-weight vote), ``num_images`` N.

    Raises:
        ValueError: when the shapes disagree or there are no images.
    """
    probs = np.asarray(exit_probs, dtype=np.float64)
    y = np.asarray(labels, dtype=np.int64).reshape(-1)
    if probs.ndim != 3 or probs.shape[1] != y.size or y.size == 0:
        raise ValueError(f'fit_vote_weights needs (K, N, C) probabilities and N labels, got '
                         f'{probs.shape} and {y.shape}')
    k = probs.shape[0]
    # the grid plus the equal weights (not on it for K = 3): the fit never loses to either
    grid = np.concatenate([simplex_grid(k, step), np.full((1, k), 1.0 / k)])
    votes = np.einsum('mk,knc->mnc', grid, probs)  # (M, N, C)
    correct = (votes.argmax(-1) == y[None]).mean(1)  # (M,)
    nll = -np.log(np.clip(votes[:, np.arange(y.size), y], 1e-12, None)).mean(1)
    best = min(range(len(grid)), key=lambda m: (-correct[m], nll[m]))
    exit_acc = [(probs[i].argmax(-1) == y).mean() * 100.0 for i in range(k)]
    soft = (probs.mean(0).argmax(-1) == y).mean() * 100.0
    return dict(weights=[round(float(w), 6) for w in grid[best]],
                accuracy=float(correct[best]) * 100.0,
                exit_accuracy=[float(a) for a in exit_acc], soft_accuracy=float(soft),
                num_images=int(y.size))


def exit_probs_from_predictions(predictions: List[dict]) -> np.ndarray:
    """(K, N, C) exit probabilities from ``tools/test.py --out`` predictions of a
    :class:`~mmreviewkd.models.classifiers.MultiExitClassifier` (each sample's
    ``exit_scores``, K x C softmax probabilities).

    Raises:
        KeyError: when the predictions carry no ``exit_scores`` (not a multi-exit model).
    """
    if not predictions or 'exit_scores' not in predictions[0]:
        raise KeyError('the predictions have no `exit_scores`: they do not come from a '
                       'MultiExitClassifier')
    stacked = np.stack([np.asarray(p['exit_scores'], dtype=np.float64) for p in predictions])
    return stacked.transpose(1, 0, 2)  # (N, K, C) -> (K, N, C)
