"""The Fashion-MNIST protocol (``tools/fmnist_benchmark.py``): every method over several paired
seeds, mean +- std and per-seed paired differences against the student alone, KD and BYOT's
vote, with each row's parameters and MACs per image at inference.

It runs the main job (:mod:`.main_job`) once per seed with every method in one work dir, so the
teacher is trained once and finished runs are reused: an interrupted protocol resumes where it
stopped. Seed s gives every method the same initialisation seed and data order.
"""
import argparse
import json
import os
import os.path as osp
import statistics
import time
from typing import Dict, List, Optional, Tuple

from . import main_job
from .fmnist_recipe import METHODS, TEACHER
from .paths import project_root

DESCRIPTION = ('The Fashion-MNIST protocol: every method, several paired seeds, mean +- std, '
               'paired differences.')
ALL_METHODS = ['student', 'kd', 'reviewkd', 'reviewkd_kd', 'byot', 'tskd', 'tskd_reviewkd']
BASELINES = {'student': 'student alone (ResNet-20)', 'kd': 'KD (Hinton)',
             'byot': 'BYOT (self-distillation, no teacher): vote'}


def rows_of(result: Dict) -> Dict[str, float]:
    """Top-1 per reported row (``ref`` name) of one seed's main-job result."""
    rows = {}
    for metrics in result.values():
        for ref, row in metrics.get('rows', {}).items():
            rows[ref] = row['top1']
    return rows


def mean_std(values: List[float]) -> Dict:
    """Mean, sample std (0 for one value), count and the values."""
    return dict(mean=statistics.mean(values),
                std=statistics.stdev(values) if len(values) > 1 else 0.0,
                n=len(values), values=values)


def summarise(per_seed: List[Dict[str, float]], costs: Optional[Dict] = None) -> Dict[str, Dict]:
    """Mean +- std per row and, per row, the per-seed paired differences to each baseline
    present (same seed, same test images)."""
    names = list(dict.fromkeys(n for r in per_seed for n in r))
    out = {}
    for name in names:
        out[name] = mean_std([r[name] for r in per_seed if name in r])
        out[name]['diff'] = {}
        for base_key, base in BASELINES.items():
            pairs = [r[name] - r[base] for r in per_seed if name in r and base in r]
            if pairs and base != name and name != 'teacher':
                out[name]['diff'][base_key] = mean_std(pairs)
        if costs and name in costs:
            out[name].update(costs[name])
    return out


def row_costs(methods: List[str]) -> Dict[str, Dict[str, float]]:
    """Parameters and MACs per image at inference of every row's model (1x28x28 input)."""
    from mmengine.config import Config
    from mmengine.registry import DefaultScope

    from mmreviewkd.models.utils.flops import inference_cost
    from mmreviewkd.registry import MODELS
    out = {}
    for key in ['teacher'] + methods:
        name, cfg_file = TEACHER if key == 'teacher' else METHODS[key]
        cfg = Config.fromfile(osp.join(project_root(), 'configs', cfg_file))
        model_cfg = cfg.model.get('architecture', cfg.model)
        with DefaultScope.overwrite_default_scope(cfg.get('default_scope', 'mmreviewkd')):
            cost = inference_cost(MODELS.build(model_cfg), (1, 28, 28))
        if 'model' in cost:
            out['teacher' if key == 'teacher' else name] = cost['model']
        else:
            out[f'{name}: deepest exit'] = cost['deepest']
            out[f'{name}: soft vote'] = out[f'{name}: vote'] = cost['vote']
    return out


def _diff_text(row: Dict, key: str) -> str:
    d = row.get('diff', {}).get(key)
    return '' if d is None else f'{d["mean"]:+.2f} ± {d["std"]:.2f}'


def format_summary(summary: Dict, settings: Dict) -> str:
    """The markdown table of a summary (also used by tools/analysis_tools/results_tables.py)."""
    seeds = settings['seeds']
    images = settings.get('test_images', 'the first 2 000')  # older protocols: 2 000
    lines = [f'Fashion-MNIST test top-1 (%, {images} test images), mean ± std over '
             f'{len(seeds)} paired seeds {seeds}; settings: {settings["main_job_args"]}. '
             'Paired differences: mean ± std over seeds of (row - baseline) on the same seed.',
             '', '| method | top-1 | vs student | vs KD | vs BYOT vote | params (M) | '
             'MACs/image (M) | per seed |', '|---|---:|---:|---:|---:|---:|---:|---|']
    for name, s in summary.items():
        per = ', '.join(f'{v:.2f}' for v in s['values'])
        params = f'{s["params"] / 1e6:.3f}' if 'params' in s else ''
        macs = f'{s["macs"] / 1e6:.1f}' if 'macs' in s else ''
        lines.append(f'| {name} | {s["mean"]:.2f} ± {s["std"]:.2f} | '
                     f'{_diff_text(s, "student")} | {_diff_text(s, "kd")} | '
                     f'{_diff_text(s, "byot")} | {params} | {macs} | {per} |')
    return '\n'.join(lines) + '\n'


def plot_summary(summary: Dict, settings: Dict, path: str) -> None:
    """A bar chart of mean +- std per row (not the teacher) as ``path`` (PNG)."""
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    names = [n for n in summary if n != 'teacher']
    fig, ax = plt.subplots(figsize=(8, 4))
    ax.bar(range(len(names)), [summary[n]['mean'] for n in names],
           yerr=[summary[n]['std'] for n in names], capsize=4, color='#4c72b0')
    ax.set_xticks(range(len(names)))
    ax.set_xticklabels(names, rotation=35, ha='right', fontsize=7)
    lo = min(summary[n]['mean'] - summary[n]['std'] for n in names)
    hi = max(summary[n]['mean'] + summary[n]['std'] for n in names)
    ax.set_ylim(max(0, lo - 1), min(100, hi + 1))
    ax.set_ylabel('top-1 (%)')
    ax.set_title(f'Fashion-MNIST, ResNet-56 -> ResNet-20, {len(settings["seeds"])} seeds')
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def result_settings(work_dir: str) -> Dict:
    """The main job's settings of the last seed run (``results_test.json``)."""
    root = work_dir if osp.isabs(work_dir) else osp.join(project_root(), work_dir)
    with open(osp.join(root, 'results_test.json')) as f:
        return json.load(f)['settings']


def write_summary(per_seed: List[Dict[str, float]], costs: Dict, seeds: List[int],
                  main_args: List[str], work_dir: str, out_dir: str) -> Tuple[Dict, Dict]:
    """Aggregate the seeds run so far into ``summary.json``, ``summary.md`` and
    ``accuracy.png`` in ``out_dir``."""
    summary = summarise(per_seed, costs)
    run_settings = result_settings(work_dir)
    settings = dict(seeds=seeds, main_job_args=' '.join(main_args) or 'quick default',
                    test_images=run_settings['test_size'] or 10000,
                    **{k: v for k, v in run_settings.items() if k not in ('seed', 'eval_split')})
    with open(osp.join(out_dir, 'summary.json'), 'w') as f:
        json.dump(dict(settings=settings, summary=summary), f, indent=2)
    with open(osp.join(out_dir, 'summary.md'), 'w') as f:
        f.write(format_summary(summary, settings))
    plot_summary(summary, settings, osp.join(out_dir, 'accuracy.png'))
    return summary, settings


def main(argv: Optional[List[str]] = None) -> Dict:
    """Run the protocol from its command line; options it does not know go to the main job."""
    parser = argparse.ArgumentParser(description=DESCRIPTION)
    parser.add_argument('--seeds', type=int, nargs='+', default=[0, 1, 2, 3, 4])
    parser.add_argument('--methods', nargs='+', default=ALL_METHODS, choices=list(METHODS))
    parser.add_argument('--quick', action='store_true',
                        help='smoke run: seed 0, 512 training / 256 test images')
    parser.add_argument('--work-dir', default=osp.join('work_dirs', 'fmnist_main'),
                        help='where the runs (and the cached teacher) live')
    parser.add_argument('--out', default=osp.join('work_dirs', 'fmnist_protocol'),
                        help='where the summary, table and plot go')
    args, main_args = parser.parse_known_args(argv)
    out_dir = args.out if osp.isabs(args.out) else osp.join(project_root(), args.out)
    if any(a.startswith('--eval-split') for a in main_args):
        parser.error('--eval-split: the protocol reports the test set; choose settings with '
                     'tools/fmnist_main_job.py --eval-split val')
    os.makedirs(out_dir, exist_ok=True)
    seeds = args.seeds
    if args.quick:
        seeds = [0]
        if args.work_dir == parser.get_default('work_dir'):
            args.work_dir = osp.join(out_dir, 'quick_runs')
        main_args += ['--train-size', '512', '--teacher-train-size', '512', '--test-size', '256']
    per_seed, t0 = [], time.time()
    costs = row_costs(args.methods)
    for i, seed in enumerate(seeds):
        print(f'[protocol] seed {seed} ({i + 1}/{len(seeds)})', flush=True)
        result = main_job.main(main_args + ['--seed', str(seed), '--work-dir', args.work_dir,
                                            '--methods', *args.methods])
        per_seed.append(rows_of(result))
        spent = time.time() - t0
        print(f'[protocol] {i + 1}/{len(seeds)} seeds done in {spent / 60:.1f} min; about '
              f'{spent / (i + 1) * (len(seeds) - i - 1) / 60:.0f} min to go', flush=True)
        # the summary so far, rewritten after every seed: an interrupted protocol keeps it
        summary, settings = write_summary(per_seed, costs, seeds[:i + 1], main_args,
                                          args.work_dir, out_dir)
    print(format_summary(summary, settings))
    print(f'wrote {out_dir}/summary.json, summary.md and accuracy.png')
    return summary
