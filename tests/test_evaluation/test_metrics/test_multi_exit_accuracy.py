import pytest
import torch

from mmreviewkd.evaluation.metrics import MultiExitAccuracy


def test_per_exit_and_ensemble_accuracy():
    metric = MultiExitAccuracy(topk=(1, 2))
    # sample 0 (label 0): exit1 wrong, exit2 right, vote right
    # sample 1 (label 1): exit1 right, exit2 wrong (label second), vote wrong
    samples = [
        dict(exit_scores=torch.tensor([[0.2, 0.7, 0.1], [0.8, 0.1, 0.1]]),
             pred_score=torch.tensor([0.5, 0.4, 0.1]), gt_label=torch.tensor([0])),
        dict(exit_scores=torch.tensor([[0.1, 0.8, 0.1], [0.6, 0.3, 0.1]]),
             pred_score=torch.tensor([0.35, 0.55, 0.1])[[0, 2, 1]], gt_label=torch.tensor([1])),
    ]
    metric.process(None, samples)
    res = metric.compute_metrics(metric.results)
    assert res['exit1/top1'] == pytest.approx(50.0)
    assert res['exit2/top1'] == pytest.approx(50.0)
    assert res['ensemble/top1'] == pytest.approx(50.0)
    assert res['exit2/top2'] == pytest.approx(100.0)
    assert res['ensemble/top2'] == pytest.approx(50.0)


def test_needs_exit_scores():
    with pytest.raises(KeyError, match='MultiExitClassifier'):
        MultiExitAccuracy().process(None, [dict(pred_score=torch.ones(2),
                                                gt_label=torch.tensor([0]))])
