"""The Fashion-MNIST benchmark protocol: every method, several seeds, mean +- std, plots.

    python tools/fmnist_benchmark.py                 # 3 seeds, all methods (about 90 min here)
    python tools/fmnist_benchmark.py --quick         # smoke run: 1 seed, tiny data, 1 epoch

Runs ``tools/fmnist_main_job.py`` once per seed with every method (student alone, KD,
ReviewKD, ReviewKD + KD, TSKD, TSKD + ReviewKD) in one work dir (default: the main job's), so
the teacher (seed 0) is trained once and cached, and finished runs are reused: re-running the
command only rebuilds the report. It aggregates the seeds' results into
``work_dirs/fmnist_benchmark/summary.json``, a markdown table (``summary.md``, generated from the
JSON, never typed) and ``accuracy.png`` (mean +- std per method).
"""
import argparse
import json
import os
import os.path as osp
import statistics
import sys
from typing import Dict, List

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
sys.path.insert(0, osp.join(ROOT, 'tools'))

ALL_METHODS = ['student', 'kd', 'reviewkd', 'reviewkd_kd', 'byot', 'tskd', 'tskd_reviewkd']


def rows_of(result: Dict) -> Dict[str, float]:
    """Accuracy per reported row of one seed's results.json."""
    import fmnist_main_job as job
    rows = {'teacher': result['teacher']['accuracy/top1']}
    for key, metrics in result.items():
        if key == 'teacher':
            continue
        name = job.METHODS[key][0]
        if 'multi-exit/ensemble/top1' in metrics:
            exits = sorted(k for k in metrics if k.startswith('multi-exit/exit') and
                           k.endswith('/top1'))
            rows[f'{name}: deepest exit'] = metrics[exits[-1]]
            rows[f'{name}: vote'] = metrics['multi-exit/ensemble/top1']
        else:
            rows[name] = metrics['accuracy/top1']
    return rows


def summarise(per_seed: List[Dict[str, float]]) -> Dict[str, Dict]:
    names = list(per_seed[0])
    out = {}
    for name in names:
        values = [r[name] for r in per_seed if name in r]
        out[name] = dict(mean=statistics.mean(values),
                         std=statistics.stdev(values) if len(values) > 1 else 0.0,
                         n=len(values), values=values)
    return out


def format_summary(summary: Dict, settings: Dict) -> str:
    """The markdown table of a summary (also used by tools/analysis_tools/results_tables.py)."""
    lines = [f'Fashion-MNIST test top-1 (%), mean ± std over {len(settings["seeds"])} seeds '
             f'{settings["seeds"]} (settings: {settings["main_job_args"]})', '',
             '| method | top-1 mean | std | seeds | per seed |', '|---|---:|---:|---:|---|']
    for name, s in summary.items():
        per = ', '.join(f'{v:.2f}' for v in s['values'])
        lines.append(f'| {name} | {s["mean"]:.2f} | {s["std"]:.2f} | {s["n"]} | {per} |')
    return '\n'.join(lines) + '\n'


def write_report(summary: Dict, settings: Dict, out_dir: str) -> str:
    table = format_summary(summary, settings)
    with open(osp.join(out_dir, 'summary.md'), 'w') as f:
        f.write(table)
    try:
        import matplotlib
        matplotlib.use('Agg')
        import matplotlib.pyplot as plt
        names = list(summary)
        fig, ax = plt.subplots(figsize=(7, 3.8))
        ax.bar(range(len(names)), [summary[n]['mean'] for n in names],
               yerr=[summary[n]['std'] for n in names], capsize=4, color='#4c72b0')
        ax.set_xticks(range(len(names)))
        ax.set_xticklabels(names, rotation=30, ha='right', fontsize=8)
        lo = min(summary[n]['mean'] - summary[n]['std'] for n in names)
        ax.set_ylim(max(0, lo - 3), 100)
        ax.set_ylabel('top-1 (%)')
        ax.set_title('Fashion-MNIST, ResNet-56 -> ResNet-20')
        fig.tight_layout()
        fig.savefig(osp.join(out_dir, 'accuracy.png'), dpi=120)
    except ImportError:  # pragma: no cover
        pass
    return table


def main(argv=None) -> Dict:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--seeds', type=int, nargs='+', default=[0, 1, 2])
    parser.add_argument('--methods', nargs='+', default=ALL_METHODS, choices=ALL_METHODS)
    parser.add_argument('--quick', action='store_true',
                        help='smoke run: seed 0, 512 training / 256 test images, 1 epoch')
    parser.add_argument('--work-dir', default=osp.join('work_dirs', 'fmnist_main'),
                        help='where the runs (and the cached teacher) live')
    parser.add_argument('--out', default=osp.join('work_dirs', 'fmnist_benchmark'),
                        help='where the summary, table and plot go')
    args, extra = parser.parse_known_args(argv)
    out_dir = osp.join(ROOT, args.out) if not osp.isabs(args.out) else args.out
    os.makedirs(out_dir, exist_ok=True)
    main_args = list(extra)
    seeds = args.seeds
    if args.quick:
        seeds = [0]
        if args.work_dir == parser.get_default('work_dir'):
            args.work_dir = osp.join(out_dir, 'quick_runs')
        main_args += ['--train-size', '512', '--test-size', '256', '--epochs', '1',
                      '--teacher-epochs', '1']
    import fmnist_main_job as job
    per_seed = []
    for seed in seeds:
        result = job.main(main_args + ['--seed', str(seed), '--work-dir', args.work_dir,
                                       '--methods', *args.methods])
        per_seed.append(rows_of(result))
    summary = summarise(per_seed)
    settings = dict(seeds=seeds, main_job_args=' '.join(main_args) or 'quick default')
    with open(osp.join(out_dir, 'summary.json'), 'w') as f:
        json.dump(dict(settings=settings, summary=summary), f, indent=2)
    table = write_report(summary, settings, out_dir)
    print(table)
    print(f'wrote {out_dir}/summary.json, summary.md and accuracy.png')
    return summary


if __name__ == '__main__':
    main()
