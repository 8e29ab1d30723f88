"""Inference throughput: the plain (exported) student vs. the multi-exit student.

    python tools/analysis_tools/benchmark_inference.py [--batch 256] [--iters 10]
        [--thresholds 0.5 0.9 0.99] [--out work_dirs/benchmarks/inference.json]

Measures images per second on random 1x28x28 inputs (the Fashion-MNIST configs) of

* the plain ResNet-20 classifier (what ``export_student.py`` gives for KD / ReviewKD),
* the multi-exit ResNet-20 (TSKD student) predicting with the soft vote of all exits,
* the multi-exit student with early exit at each threshold. The batched implementation runs
  every exit and then picks, so its wall time equals the vote's; the MACs a sequential
  early-exit forward would spend are reported beside it (the share of samples answered by each
  exit depends on the trained weights: pass ``--checkpoint`` of a trained TSKD run for
  meaningful shares; with random weights almost nothing is confident).

Figures are printed and written to JSON, not asserted.
"""
import argparse
import json
import os
import os.path as osp
import sys
import time

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
sys.path.insert(0, ROOT)

import mmreviewkd  # noqa: E402,F401


def images_per_second(fn, x, iters, warmup=2):
    import torch
    with torch.no_grad():
        for i in range(warmup + iters):
            if i == warmup:
                t0 = time.perf_counter()
            fn(x)
    return x.shape[0] * iters / (time.perf_counter() - t0)


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
    x = torch.randn(args.batch, 1, 28, 28)
    macs = multi_exit_macs(multi, (1, 28, 28))
    plain_macs = macs['ensemble'] - sum(macs['branch'][:-1])
    res = dict(settings=dict(batch=args.batch, iters=args.iters,
                             threads=torch.get_num_threads(), checkpoint=args.checkpoint),
               rows=[])
    res['rows'].append(dict(name='plain student (exported)', macs=plain_macs,
                            img_per_s=images_per_second(lambda t: plain(t, mode='tensor'), x,
                                                        args.iters)))
    res['rows'].append(dict(name='multi-exit, soft vote', macs=macs['ensemble'],
                            img_per_s=images_per_second(multi.exit_probs, x, args.iters)))
    with torch.no_grad():
        probs = multi.exit_probs(x)
    cost = torch.tensor(macs['exit'] + [macs['ensemble']], dtype=torch.float64)
    for t in args.thresholds:
        _, used = early_exit(probs, t)
        ips = images_per_second(lambda z: early_exit(multi.exit_probs(z), t), x, args.iters)
        res['rows'].append(dict(name=f'multi-exit, early exit @ {t:g}',
                                macs=float(cost[used].mean()), img_per_s=ips,
                                exit_share=[float((used == k).double().mean() * 100)
                                            for k in range(probs.shape[0] + 1)]))
    print(f'{"model":<32} {"images/s":>9} {"MMACs/img (sequential)":>24}')
    for r in res['rows']:
        print(f'{r["name"]:<32} {r["img_per_s"]:9.0f} {r["macs"] / 1e6:24.2f}')
    os.makedirs(osp.dirname(osp.abspath(args.out)), exist_ok=True)
    with open(args.out, 'w') as f:
        json.dump(res, f, indent=2)
    print(f'wrote {args.out}')
    return res


if __name__ == '__main__':
    main()
