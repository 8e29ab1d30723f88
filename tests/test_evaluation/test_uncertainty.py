"""Binomial standard errors, paired differences and the noise mark, against hand-computed
values."""
import math

import pytest

from mmreviewkd.evaluation.uncertainty import binomial_se, noise_mark, paired_difference


def test_binomial_se_of_80_percent_on_100_images():
    correct = [True] * 80 + [False] * 20
    assert binomial_se(correct) == pytest.approx(100 * math.sqrt(0.8 * 0.2 / 100))  # 4.0


def test_paired_difference_counts_only_disagreements():
    # 1000 images: both right on 800, a alone right on 30, b alone right on 10
    a = [1] * 800 + [1] * 30 + [0] * 10 + [0] * 160
    b = [1] * 800 + [0] * 30 + [1] * 10 + [0] * 160
    res = paired_difference(a, b)
    assert res['diff'] == pytest.approx(2.0)
    d = [0] * 800 + [1] * 30 + [-1] * 10 + [0] * 160
    mean = sum(d) / 1000
    var = sum((x - mean) ** 2 for x in d) / 999
    assert res['se'] == pytest.approx(100 * math.sqrt(var / 1000))  # ~0.20
    assert res['beyond_noise'] and res['n'] == 1000
    # a 1-point difference made of 400 disagreements: se ~2 points, within noise
    a2 = [1] * 600 + [1] * 205 + [0] * 195
    b2 = [1] * 600 + [0] * 205 + [1] * 195
    res2 = paired_difference(a2, b2)
    assert res2['diff'] == pytest.approx(1.0) and not res2['beyond_noise']


def test_paired_difference_refuses_unpaired_vectors():
    with pytest.raises(ValueError, match='equally long'):
        paired_difference([1, 0], [1])


def test_noise_mark():
    assert noise_mark(1.2, 0.3) == '+1.20 ± 0.30 *'
    assert noise_mark(-0.5, 0.3) == '-0.50 ± 0.30 (within noise)'
