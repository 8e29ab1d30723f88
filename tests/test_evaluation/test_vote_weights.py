import numpy as np
import pytest
import torch

from mmreviewkd.evaluation.vote_weights import (exit_probs_from_predictions, fit_vote_weights,
                                                simplex_grid)
from mmreviewkd.models.utils.ensemble import ensemble_vote


def random_exits(seed: int, k: int = 3, n: int = 400, c: int = 10):
    """K exits of rising quality: exit i sees the label with a signal of strength i + 1."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, c, n)
    logits = rng.normal(size=(k, n, c))
    for i in range(k):
        logits[i, np.arange(n), y] += 0.6 * (i + 1)
    probs = np.exp(logits) / np.exp(logits).sum(-1, keepdims=True)
    return probs, y


def test_simplex_grid_sums_to_one_and_contains_every_single_exit():
    grid = simplex_grid(3, 0.1)
    assert grid.shape == (66, 3)
    np.testing.assert_allclose(grid.sum(1), 1.0)
    for one_hot in np.eye(3):
        assert any(np.allclose(row, one_hot) for row in grid)
    with pytest.raises(ValueError, match='step dividing 1'):
        simplex_grid(3, 0.3)


@pytest.mark.parametrize('seed', [*range(5), 610])
def test_fitted_vote_is_never_below_the_best_exit_or_the_equal_vote_on_its_data(seed):
    # seed 610 (30 images, 3 classes): no point of the 0.1 grid reaches the equal vote
    probs, y = random_exits(seed) if seed < 610 else random_exits(seed, n=30, c=3)
    fitted = fit_vote_weights(probs, y)
    assert fitted['accuracy'] >= max(fitted['exit_accuracy']) - 1e-9
    assert fitted['accuracy'] >= fitted['soft_accuracy'] - 1e-9
    assert sum(fitted['weights']) == pytest.approx(1.0, abs=1e-5)


def test_fitted_weights_reproduce_their_accuracy_with_the_models_weighted_vote():
    probs, y = random_exits(7)
    fitted = fit_vote_weights(probs, y)
    scores = ensemble_vote(torch.from_numpy(probs), 'weighted', fitted['weights'])
    accuracy = (scores.argmax(-1).numpy() == y).mean() * 100
    assert accuracy == pytest.approx(fitted['accuracy'])


def test_a_useless_shallow_exit_gets_no_weight_when_it_only_hurts():
    rng = np.random.default_rng(0)
    n, c = 300, 5
    y = rng.integers(0, c, n)
    deep = np.full((n, c), 0.1)
    deep[np.arange(n), y] = 0.6  # always right, not very confident
    wrong = np.zeros((n, c))
    wrong[np.arange(n), (y + 1) % c] = 1.0  # always confidently wrong
    fitted = fit_vote_weights(np.stack([wrong, deep]), y)
    assert fitted['soft_accuracy'] == 0.0  # the equal vote follows the confident wrong exit
    assert fitted['accuracy'] == 100.0
    # every weighting with the wrong exit below one half is right; the tie goes to the lowest
    # negative log-likelihood, i.e. the deepest exit alone
    assert fitted['weights'] == [0.0, 1.0]


def test_bad_shapes_and_plain_predictions_are_refused():
    probs, y = random_exits(0)
    with pytest.raises(ValueError, match=r'\(K, N, C\)'):
        fit_vote_weights(probs, y[:-1])
    with pytest.raises(KeyError, match='MultiExitClassifier'):
        exit_probs_from_predictions([{'pred_score': torch.zeros(3)}])
    preds = [{'exit_scores': torch.from_numpy(probs[:, i])} for i in range(4)]
    np.testing.assert_allclose(exit_probs_from_predictions(preds), probs[:, :4])
