"""Inference throughput: the plain (exported) student vs. the multi-exit student.

    python tools/analysis_tools/benchmark_inference.py [--checkpoint TSKD.pth] [--batch 256]
        [--iters 10] [--thresholds 0.5 0.9 0.99] [--out work_dirs/benchmarks/inference.json]

Measures images per second, top-1 on the batch and MACs per image of

* the plain ResNet-20 classifier (what ``export_student.py`` gives for KD / ReviewKD),
* the multi-exit ResNet-20 (TSKD student) predicting with the soft vote of all exits,
* the multi-exit student with early exit at each threshold, twice: batched (every exit runs,
  then the rule picks: same wall time as the vote) and stage-wise
  (``early_exit_stagewise=True``: later stages run only on the samples still unanswered, so
  the saved MACs become saved time).

The batch is the first ``--batch`` Fashion-MNIST test images when ``data/fashion_mnist`` exists
(through the config's test pipeline and data preprocessor), random 1x28x28 inputs otherwise;
pass ``--checkpoint`` of a trained TSKD run, or random weights make almost nothing confident.
Figures are printed and written to JSON, not asserted.
"""
import argparse
import os.path as osp
import time

import mmreviewkd  # noqa: F401
from mmreviewkd.experiments.benchmark_tables import format_inference_table
from mmreviewkd.experiments.json_io import write_json

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


def images_per_second(fn, x, iters, warmup=2):
    import torch
    with torch.no_grad():
        for i in range(warmup + iters):
            if i == warmup:
                t0 = time.perf_counter()
            fn(x)
    return x.shape[0] * iters / (time.perf_counter() - t0)


def test_batch(cfg, model, batch: int):
    """The first ``batch`` test images (preprocessed) and labels, or random inputs."""
    import torch
    from mmengine.dataset import pseudo_collate
    from mmengine.registry import DefaultScope

    from mmreviewkd.registry import DATASETS
    ds_cfg = cfg.test_dataloader.dataset.copy()
    root = osp.join(ROOT, ds_cfg.data_root)
    if not osp.isfile(osp.join(root, 't10k-labels-idx1-ubyte')):
        return torch.randn(batch, 1, 28, 28), None
    ds_cfg.update(data_root=root, download=False, indices=batch)
    with DefaultScope.overwrite_default_scope('mmpretrain'):
        dataset = DATASETS.build(ds_cfg)
    data = model.data_preprocessor(pseudo_collate([dataset[i] for i in range(batch)]), False)
    return data['inputs'], torch.cat([s.gt_label for s in data['data_samples']])


def main(argv=None):
    import torch
    from mmengine.config import Config
    from mmengine.registry import DefaultScope

    from mmreviewkd.models.utils import early_exit
    from mmreviewkd.models.utils.flops import multi_exit_macs
    from mmreviewkd.registry import MODELS

    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--batch', type=int, default=256)
    parser.add_argument('--iters', type=int, default=10)
    parser.add_argument('--thresholds', type=float, nargs='+', default=[0.5, 0.9, 0.99])
    parser.add_argument('--checkpoint', help='a trained TSKD (distillation) checkpoint')
    parser.add_argument('--out', default='work_dirs/benchmarks/inference.json')
    args = parser.parse_args(argv)

    plain_cfg = Config.fromfile(osp.join(ROOT, 'configs/fashion_mnist/resnet20_fmnist.py'))
    multi_cfg = Config.fromfile(osp.join(ROOT, 'configs/tskd/multiexit_resnet20_fmnist.py'))
    with DefaultScope.overwrite_default_scope('mmreviewkd'):
        plain = MODELS.build(plain_cfg.model).eval()
        multi = MODELS.build(multi_cfg.model).eval()
    if args.checkpoint:
        ckpt = torch.load(args.checkpoint, map_location='cpu', weights_only=True)
        state = ckpt.get('state_dict', ckpt)
        multi.load_state_dict({k[len('architecture.'):]: v for k, v in state.items()
                               if k.startswith('architecture.')}, strict=True)
        plain.load_state_dict({k[len('architecture.'):]: v for k, v in state.items()
                               if k.startswith('architecture.') and '.exits.' not in k
                               and not k.startswith('architecture.exits.')}, strict=True)
    x, labels = test_batch(multi_cfg, multi, args.batch)
    macs = multi_exit_macs(multi, (1, 28, 28))
    plain_macs = macs['ensemble'] - sum(macs['branch'][:-1])
    res = dict(settings=dict(batch=args.batch, iters=args.iters,
                             threads=torch.get_num_threads(), checkpoint=args.checkpoint,
                             images='Fashion-MNIST test' if labels is not None else 'random'),
               rows=[])

    def top1(scores):
        return None if labels is None else float((scores.argmax(1) == labels).float().mean() * 100)

    with torch.no_grad():
        plain_scores = plain(x, mode='tensor')
        probs = multi.exit_probs(x)
    res['rows'].append(dict(name='plain student (exported)', macs=plain_macs,
                            top1=top1(plain_scores),
                            img_per_s=images_per_second(lambda t: plain(t, mode='tensor'), x,
                                                        args.iters)))
    res['rows'].append(dict(name='multi-exit, soft vote', macs=macs['ensemble'],
                            top1=top1(probs.mean(0)),
                            img_per_s=images_per_second(multi.exit_probs, x, args.iters)))
    cost = torch.tensor(macs['exit'] + [macs['ensemble']], dtype=torch.float64)
    for t in args.thresholds:
        scores, used = early_exit(probs, t)
        share = [float((used == k).double().mean() * 100) for k in range(probs.shape[0] + 1)]
        batched = images_per_second(lambda z: early_exit(multi.exit_probs(z), t), x, args.iters)
        multi.early_exit_threshold = t
        _, staged_scores, staged_used = multi.early_exit_stagewise_probs(x)
        stagewise = images_per_second(multi.early_exit_stagewise_probs, x, args.iters)
        res['rows'].append(dict(name=f'multi-exit, early exit @ {t:g}, batched',
                                macs=macs['ensemble'], img_per_s=batched, top1=top1(scores),
                                exit_share=share))
        res['rows'].append(dict(name=f'multi-exit, early exit @ {t:g}, stage-wise',
                                macs=float(cost[staged_used].mean()), img_per_s=stagewise,
                                top1=top1(staged_scores), exit_share=share,
                                same_exits_as_batched=bool((staged_used == used).all())))
    print(format_inference_table(res))
    write_json(res, args.out)
    return res


if __name__ == '__main__':
    main()
