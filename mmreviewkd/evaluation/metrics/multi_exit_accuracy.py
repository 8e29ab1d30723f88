"""Top-k accuracy of every exit of a multi-exit classifier and of their vote."""
from typing import Dict, List, Optional, Sequence

import torch
from mmengine.evaluator import BaseMetric

from mmreviewkd.registry import METRICS


@METRICS.register_module()
class MultiExitAccuracy(BaseMetric):
    """Reports ``exit{k}/top{t}`` for every exit k (1 = shallowest) and ``ensemble/top{t}`` for
    the model's prediction (its vote or early-exit result, ``pred_score``), in percent. With
    early exit it also reports the share of samples answered by each exit
    (``exit{k}/used``, ``fallback/used``).

    Args:
        topk (Sequence[int]): Defaults to (1, 5) (5 is skipped when there are fewer classes).
        collect_device (str): Defaults to ``'cpu'``.
        prefix (str, optional): Metric name prefix.
    """

    default_prefix = 'multi-exit'

    def __init__(self, topk: Sequence[int] = (1, 5), collect_device: str = 'cpu',
                 prefix: Optional[str] = None) -> None:
        super().__init__(collect_device=collect_device, prefix=prefix)
        self.topk = tuple(topk)

    def process(self, data_batch, data_samples: Sequence[dict]) -> None:
        for sample in data_samples:
            if 'exit_scores' not in sample:
                raise KeyError('MultiExitAccuracy needs `exit_scores` in the predictions: use '
                               'it with a MultiExitClassifier student (TSKD).')
            self.results.append(dict(
                exit_scores=sample['exit_scores'].cpu(),
                pred_score=sample['pred_score'].cpu(),
                gt_label=int(sample['gt_label'].reshape(-1)[0]),
                exit_used=sample.get('exit_used', None)))

    @staticmethod
    def _topk(scores: torch.Tensor, labels: torch.Tensor, k: int) -> float:
        k = min(k, scores.shape[1])
        hit = (scores.topk(k, dim=1).indices == labels[:, None]).any(1)
        return float(hit.float().mean() * 100)

    def compute_metrics(self, results: List[dict]) -> Dict[str, float]:
        labels = torch.tensor([r['gt_label'] for r in results])
        exit_scores = torch.stack([r['exit_scores'] for r in results], 1)  # (K, N, C)
        ensemble = torch.stack([r['pred_score'] for r in results])
        metrics = {}
        num_classes = ensemble.shape[1]
        for t in self.topk:
            if t > num_classes:
                continue
            for k in range(exit_scores.shape[0]):
                metrics[f'exit{k + 1}/top{t}'] = self._topk(exit_scores[k], labels, t)
            metrics[f'ensemble/top{t}'] = self._topk(ensemble, labels, t)
        used = [r['exit_used'] for r in results if r['exit_used'] is not None]
        if used:
            used_t = torch.tensor(used)
            for k in range(exit_scores.shape[0]):
                metrics[f'exit{k + 1}/used'] = float((used_t == k).float().mean() * 100)
            metrics['fallback/used'] = float((used_t >= exit_scores.shape[0]).float().mean() * 100)
        return metrics
