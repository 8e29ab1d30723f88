"""How sure an accuracy is: binomial standard errors and paired differences on one test set.

An accuracy measured on ``n`` test images is a binomial proportion: its standard error is
``sqrt(p (1 - p) / n)``. Two models evaluated on the *same* images are compared per image (a
paired difference): the standard error of the difference of accuracies is the standard error of
the mean of ``correct_a - correct_b``, which is much smaller than the two accuracies' errors
combined because both models get most images right (or wrong) together. A difference is marked
*beyond noise* when it exceeds ``z`` standard errors (``z = 2``: about 95 % two-sided). This is
noise from the finite test set only; seed-to-seed variation of training comes on top and is what
the multi-seed protocol measures.
"""
import math
from typing import Dict, Sequence

import numpy as np


def binomial_se(correct: Sequence[bool]) -> float:
    """Standard error (percentage points) of the accuracy of a 0/1 ``correct`` vector.

    Args:
        correct (Sequence[bool]): (n,) whether each test image was classified correctly.

    Returns:
        float: ``100 * sqrt(p (1 - p) / n)``.

    Raises:
        ValueError: for an empty vector.
    """
    c = np.asarray(correct, dtype=np.float64)
    if c.size == 0:
        raise ValueError('binomial_se needs at least one prediction')
    p = c.mean()
    return 100.0 * math.sqrt(p * (1.0 - p) / c.size)


def paired_difference(correct_a: Sequence[bool], correct_b: Sequence[bool],
                      z: float = 2.0) -> Dict[str, float]:
    """Accuracy of ``a`` minus accuracy of ``b`` on the same images, with its standard error.

    Args:
        correct_a (Sequence[bool]): (n,) per-image correctness of model a.
        correct_b (Sequence[bool]): (n,) of model b, the same images in the same order.
        z (float): How many standard errors make a difference "beyond noise". Defaults to 2.

    Returns:
        dict: ``diff`` and ``se`` (percentage points), ``beyond_noise`` (``|diff| > z se``),
        ``n``.

    Raises:
        ValueError: when the two vectors have different lengths or are empty.
    """
    a = np.asarray(correct_a, dtype=np.float64)
    b = np.asarray(correct_b, dtype=np.float64)
    if a.shape != b.shape or a.size == 0:
        raise ValueError(f'paired_difference needs two equally long, non-empty vectors, got '
                         f'{a.shape} and {b.shape}')
    d = a - b
    se = 100.0 * (d.std(ddof=1) / math.sqrt(d.size) if d.size > 1 else 0.0)
    diff = 100.0 * d.mean()
    return dict(diff=diff, se=se, beyond_noise=bool(abs(diff) > z * se), n=int(d.size))


def noise_mark(diff: float, se: float, z: float = 2.0) -> str:
    """A short mark for a table cell: ``'+1.20 ± 0.31 *'`` beyond noise, ``'(within noise)'``
    appended otherwise."""
    text = f'{diff:+.2f} ± {se:.2f}'
    return f'{text} *' if abs(diff) > z * se else f'{text} (within noise)'
