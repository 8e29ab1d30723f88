"""Accuracy vs. compute of early exit for a multi-exit (TSKD) student.

    python tools/analysis_tools/early_exit_sweep.py CONFIG CHECKPOINT \
        [--thresholds 0 0.5 0.7 0.9 0.95 0.99 1.01] [--out-dir DIR] [--cfg-options ...]

Runs the test set once, keeps every exit's probabilities, and for each threshold applies the
early-exit rule (first exit whose top probability reaches the threshold answers, the vote of all
exits otherwise). The compute of a sample is that of a sequential early-exit forward that stops
at the answering exit (MACs counted per layer, see ``mmreviewkd.models.utils.flops``). Writes
``early_exit.json`` and ``early_exit.png`` (accuracy vs. average GMACs per image) and prints the
table.
"""
import argparse
import json
import os
import os.path as osp

import mmreviewkd  # noqa: F401

DEFAULT_THRESHOLDS = (0.0, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.99, 1.01)


def sweep(probs, labels, macs_per_exit, thresholds, vote='soft', weights=None):
    """Accuracy and mean MACs for each threshold.

    Args:
        probs (Tensor): (K, N, C) exit probabilities.
        labels (Tensor): (N,) labels.
        macs_per_exit (list): K + 1 costs: answering at exit k (k < K, sequentially) and the
            vote fallback (all exits).
        thresholds (Sequence[float]): Thresholds to try.

    Returns:
        list[dict]: one row per threshold (``threshold``, ``top1``, ``gmacs``, ``exit_share``).
    """
    import torch

    from mmreviewkd.models.utils import early_exit
    cost = torch.tensor(macs_per_exit, dtype=torch.float64)
    k = probs.shape[0]
    rows = []
    for t in thresholds:
        scores, used = early_exit(probs, t, vote, weights)
        # `used` is K for the vote fallback: its cost is that of running every exit
        top1 = float((scores.argmax(1) == labels).double().mean() * 100)
        rows.append(dict(
            threshold=float(t), top1=top1, gmacs=float(cost[used].mean() / 1e9),
            exit_share=[float((used == i).double().mean() * 100) for i in range(k + 1)]))
    return rows


def main(argv=None):
    import torch
    from mmengine.config import Config, DictAction
    from mmengine.registry import DefaultScope
    from mmengine.runner import Runner, load_checkpoint

    from mmreviewkd.models.utils.flops import multi_exit_macs

    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('config')
    parser.add_argument('checkpoint')
    parser.add_argument('--thresholds', type=float, nargs='+', default=DEFAULT_THRESHOLDS)
    parser.add_argument('--out-dir', default=None, help='default: the checkpoint\'s folder')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction)
    args = parser.parse_args(argv)

    cfg = Config.fromfile(args.config)
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
    scope = cfg.get('default_scope', 'mmreviewkd')
    with DefaultScope.overwrite_default_scope(scope):
        from mmreviewkd.registry import MODELS
        model_cfg = cfg.model
        if 'teacher_ckpt' in model_cfg:
            model_cfg.teacher_ckpt = None
        model = MODELS.build(model_cfg)
        load_checkpoint(model, args.checkpoint, map_location='cpu')
        student = getattr(model, 'student', model)
        if not hasattr(student, 'exit_probs'):
            raise TypeError('early_exit_sweep needs a MultiExitClassifier (TSKD) model')
        loader = Runner.build_dataloader(cfg.test_dataloader)
    model.eval()
    all_probs, all_labels = [], []
    with torch.no_grad():
        for data in loader:
            data = model.data_preprocessor(data, False)
            all_probs.append(student.exit_probs(data['inputs']))
            all_labels.append(torch.cat([s.gt_label for s in data['data_samples']]))
    probs, labels = torch.cat(all_probs, 1), torch.cat(all_labels)
    input_shape = tuple(data['inputs'].shape[1:])
    macs = multi_exit_macs(student, input_shape)
    rows = sweep(probs, labels, macs['exit'] + [macs['ensemble']], args.thresholds,
                 student.vote, student.vote_weights)
    single = [float((probs[i].argmax(1) == labels).double().mean() * 100)
              for i in range(probs.shape[0])]

    out_dir = args.out_dir or osp.dirname(osp.abspath(args.checkpoint))
    os.makedirs(out_dir, exist_ok=True)
    result = dict(config=args.config, checkpoint=args.checkpoint, input_shape=input_shape,
                  num_images=int(labels.numel()), macs=macs, exit_top1=single, sweep=rows)
    with open(osp.join(out_dir, 'early_exit.json'), 'w') as f:
        json.dump(result, f, indent=2)
    print(f'{"threshold":>9} | {"top-1 %":>7} | {"GMACs/img":>9} | share answered per exit '
          f'(last = vote)')
    for r in rows:
        share = ' '.join(f'{s:5.1f}' for s in r['exit_share'])
        print(f'{r["threshold"]:9.2f} | {r["top1"]:7.2f} | {r["gmacs"]:9.5f} | {share}')
    print('single exits: ' + ', '.join(
        f'exit{i + 1} {a:.2f}% @ {m / 1e9:.5f} GMACs' for i, (a, m) in enumerate(
            zip(single, macs['exit']))))
    try:
        import matplotlib
        matplotlib.use('Agg')
        import matplotlib.pyplot as plt
        fig, ax = plt.subplots(figsize=(5, 3.5))
        ax.plot([r['gmacs'] for r in rows], [r['top1'] for r in rows], 'o-', label='early exit')
        for r in rows:
            ax.annotate(f'{r["threshold"]:g}', (r['gmacs'], r['top1']), fontsize=7,
                        xytext=(3, -9), textcoords='offset points')
        ax.set_xlabel('average GMACs per image')
        ax.set_ylabel('top-1 accuracy (%)')
        ax.set_title('Early exit: accuracy vs. compute')
        ax.grid(alpha=0.3)
        ax.legend()
        fig.tight_layout()
        fig.savefig(osp.join(out_dir, 'early_exit.png'), dpi=120)
    except ImportError:  # pragma: no cover
        print('matplotlib is not installed: no plot')
    print(f'wrote {osp.join(out_dir, "early_exit.json")} and early_exit.png')
    return result


if __name__ == '__main__':
    main()
