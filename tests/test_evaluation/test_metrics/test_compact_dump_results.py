"""tools/test.py --out: per-sample predictions dumped without their batch's storage."""
import os.path as osp
import pickle

import torch
from mmengine.evaluator import DumpResults

from mmreviewkd.evaluation.metrics import CompactDumpResults


def views_of_one_batch(n=256, classes=10):
    scores = torch.randn(n, 1000)[:, :classes].softmax(-1)  # views into one big storage
    return [dict(pred_score=scores[i], gt_label=torch.tensor([i % classes]),
                 meta=dict(idx=i, crops=[scores[i, :2]])) for i in range(n)]


def test_dumped_predictions_keep_their_values_without_the_batch_storage(tmp_path):
    preds = views_of_one_batch()
    sizes = {}
    for name, metric_type in (('compact', CompactDumpResults), ('mmengine', DumpResults)):
        path = str(tmp_path / f'{name}.pkl')
        metric = metric_type(out_file_path=path)
        metric.process({}, preds)
        metric.compute_metrics(metric.results)
        sizes[name] = osp.getsize(path)
        with open(path, 'rb') as f:
            loaded = pickle.load(f)
        for got, want in zip(loaded, preds):
            torch.testing.assert_close(got['pred_score'], want['pred_score'])
            torch.testing.assert_close(got['meta']['crops'][0], want['meta']['crops'][0])
            assert got['meta']['idx'] == want['meta']['idx']
    # MMEngine's dump writes the batch's 256 x 10 scores once per sample and nested view
    # (2 x 10 kB); compacted, a sample is its 12 floats and the pickle's overhead
    assert sizes['mmengine'] > 256 * 20000
    assert sizes['compact'] < 256 * 1500


def test_test_config_with_out_uses_the_compact_dump(tmp_path, fmnist_root):
    from mmreviewkd.apis import build_runner_config
    from mmreviewkd.experiments.paths import project_root
    cfg = build_runner_config(
        osp.join(project_root(), 'configs', 'fashion_mnist', 'resnet20_fmnist.py'),
        work_dir=str(tmp_path), out=str(tmp_path / 'preds.pkl'), for_test=True)
    types = [e['type'] for e in cfg.test_evaluator]
    assert types[-1] == 'mmreviewkd.CompactDumpResults'
