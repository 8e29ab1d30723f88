import pytest
import torch

from mmreviewkd.models.utils import early_exit, ensemble_vote

# 3 exits, 1 sample, 3 classes: the two shallow exits prefer class 1 a little, the deepest
# prefers class 0 strongly.
PROBS = torch.tensor([[[0.45, 0.55, 0.0]], [[0.45, 0.55, 0.0]], [[0.9, 0.0, 0.1]]])


def test_soft_vote_is_the_mean():
    scores = ensemble_vote(PROBS, 'soft')
    torch.testing.assert_close(scores, torch.tensor([[0.6, 1.1 / 3, 0.1 / 3]]))
    assert scores.argmax(1).item() == 0


def test_hard_vote_is_the_majority():
    assert ensemble_vote(PROBS, 'hard').argmax(1).item() == 1
    # a 1-1-1 tie goes to the higher mean probability
    tie = torch.tensor([[[0.5, 0.4, 0.1]], [[0.3, 0.6, 0.1]], [[0.1, 0.35, 0.55]]])
    assert ensemble_vote(tie, 'hard').argmax(1).item() == 1


def test_weighted_vote_and_single_exit():
    assert ensemble_vote(PROBS, 'weighted', [0.1, 0.1, 0.8]).argmax(1).item() == 0
    assert ensemble_vote(PROBS, 'weighted', [1, 1, 0]).argmax(1).item() == 1
    assert ensemble_vote(PROBS, 'exit', exit_index=0).argmax(1).item() == 1
    assert ensemble_vote(PROBS, 'exit').argmax(1).item() == 0
    with pytest.raises(ValueError, match='3 entries'):
        ensemble_vote(PROBS, 'weighted', [1, 1])
    with pytest.raises(ValueError, match='not a vote rule'):
        ensemble_vote(PROBS, 'median')


def test_early_exit_thresholds():
    probs = PROBS.repeat(1, 4, 1)
    scores, used = early_exit(probs, 0.0)
    assert (used == 0).all()
    torch.testing.assert_close(scores, probs[0])
    scores, used = early_exit(probs, 1.01)  # never confident: the ensemble answers
    assert (used == 3).all()
    torch.testing.assert_close(scores, probs.mean(0))
    scores, used = early_exit(probs, 1.01, fallback='exit')  # ... or the deepest exit
    assert (used == 2).all()
    torch.testing.assert_close(scores, probs[2])
    scores, used = early_exit(probs, 0.8)  # only the deepest exit reaches 0.8
    assert (used == 2).all() and (scores.argmax(1) == 0).all()


def test_per_exit_thresholds():
    # exit 1 confident at 0.55 only under its own lower threshold
    scores, used = early_exit(PROBS, [0.5, 0.99, 0.8])
    assert used.item() == 0
    scores, used = early_exit(PROBS, [0.6, 0.6, 0.8])
    assert used.item() == 2 and scores.argmax(1).item() == 0
    # K - 1 values: the deepest exit never answers alone, the vote does
    _, used = early_exit(PROBS, [0.6, 0.6])
    assert used.item() == 3


def test_bad_thresholds_are_refused_naming_the_key():
    from mmreviewkd.models.utils.ensemble import exit_thresholds
    for bad in ([0.9], [0.9, 0.8, 0.7, 0.6], 'high', [0.9, None], float('nan')):
        with pytest.raises(ValueError, match='model.early_exit_threshold'):
            exit_thresholds(bad, 3, 'model.early_exit_threshold')
