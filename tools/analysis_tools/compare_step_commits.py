"""Training-step time of this tree against an earlier commit, measured side by side, interleaved.

    python tools/analysis_tools/compare_step_commits.py --baseline 6be73d6 \
        [--pairs resnet56:resnet20 resnet32x4:resnet8x4] [--variants kd reviewkd] [--rounds 3] \
        [--iters 5] [--warmup 2] [--out work_dirs/benchmarks/step_vs_baseline.json] \
        [--into docs/results/step.json]

The baseline is checked out once as a git worktree (``work_dirs/baseline_<commit>``). Each round
runs every variant of both trees, each in its own process through that tree's
``benchmark_step.py --worker`` (the same models, batch and timing on both sides; the tree's own
package first on ``PYTHONPATH``), alternating which tree goes first, so drifts of the machine
hit both. Per tree and variant the median over rounds is reported, with ReviewKD / KD of each
tree and the speed-up of each variant (baseline seconds / ours). ``--into`` adds the result to a
step JSON (``baseline_comparison``), rendered by ``results_tables.py``. Nothing is asserted.
"""
import argparse
import json
import os.path as osp
import statistics
import subprocess
import time
from typing import Dict, List

from mmreviewkd.experiments.json_io import write_json
from mmreviewkd.experiments.step_models import review_path_setting, run_step_worker

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


def git(*args: str, cwd: str = ROOT) -> str:
    return subprocess.run(['git', *args], cwd=cwd, check=True, capture_output=True,
                          text=True).stdout.strip()


def baseline_tree(commit: str) -> str:
    """A worktree of ``commit`` under work_dirs/ (made once; reused while it is at ``commit``)."""
    sha = git('rev-parse', commit)
    path = osp.join(ROOT, 'work_dirs', f'baseline_{sha[:10]}')
    if not osp.isdir(path):
        git('worktree', 'add', '--detach', path, sha)
    elif git('rev-parse', 'HEAD', cwd=path) != sha:
        raise RuntimeError(f'{path} is not at {sha}; remove it (git worktree remove {path})')
    return path


def summarise(times: Dict[str, Dict[str, List[float]]], variants: List[str]) -> Dict:
    """Medians per tree and variant, ReviewKD / KD per tree, speed-ups (baseline / ours)."""
    med = {tree: {v: statistics.median(times[tree][v]) for v in variants} for tree in times}
    out = dict(s_per_step=med, rounds=times,
               speedup={v: med['baseline'][v] / med['ours'][v] for v in variants})
    if 'kd' in variants and 'reviewkd' in variants:
        out['reviewkd_vs_kd'] = {tree: med[tree]['reviewkd'] / med[tree]['kd'] for tree in med}
    return out


def main(argv=None) -> Dict:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--baseline', required=True, help='commit to compare against')
    parser.add_argument('--pairs', nargs='+', default=['resnet56:resnet20'])
    parser.add_argument('--variants', nargs='+', default=['kd', 'reviewkd'])
    parser.add_argument('--rounds', type=int, default=3)
    parser.add_argument('--batch', type=int, default=64)
    parser.add_argument('--iters', type=int, default=5)
    parser.add_argument('--warmup', type=int, default=2)
    parser.add_argument('--threads', type=int, default=None)
    parser.add_argument('--out', default='work_dirs/benchmarks/step_vs_baseline.json')
    parser.add_argument('--into', help='also add the result to this step JSON '
                        '(e.g. docs/results/step.json) as `baseline_comparison`')
    args = parser.parse_args(argv)
    import torch
    trees = dict(baseline=baseline_tree(args.baseline), ours=ROOT)
    result = dict(settings=dict(
        baseline=git('rev-parse', '--short', args.baseline), ours=git('rev-parse', '--short',
                                                                      'HEAD'),
        ours_dirty=bool(git('status', '--porcelain', '--untracked-files=no')),
        rounds=args.rounds, batch=args.batch, iters=args.iters, warmup=args.warmup,
        threads=args.threads or torch.get_num_threads(), torch=torch.__version__,
        review_path=review_path_setting()), pairs={})
    t0 = time.time()
    for pair in args.pairs:
        times = {tree: {v: [] for v in args.variants} for tree in trees}
        for r in range(args.rounds):
            order = list(trees) if r % 2 == 0 else list(trees)[::-1]
            for tree in order:
                for variant in args.variants:
                    s = run_step_worker(trees[tree], pair, variant, args.batch, args.iters,
                                        args.warmup, args.threads,
                                        own_package=True)['s_per_step']
                    times[tree][variant].append(s)
                    print(f'[compare] {pair} round {r + 1}/{args.rounds} {tree:8s} {variant:10s}'
                          f' {s:.3f} s/step ({(time.time() - t0) / 60:.1f} min)', flush=True)
        result['pairs'][pair] = summarise(times, args.variants)
        print(json.dumps({k: v for k, v in result['pairs'][pair].items() if k != 'rounds'},
                         indent=1), flush=True)
    write_json(result, args.out)
    if args.into:
        with open(args.into) as f:
            step = json.load(f)
        step['baseline_comparison'] = result
        write_json(step, args.into)
    return result


if __name__ == '__main__':
    main()
