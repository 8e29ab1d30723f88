"""Write the results tables of the READMEs from the committed JSON (never typed by hand).

    python tools/analysis_tools/results_tables.py            # rewrite the generated blocks
    python tools/analysis_tools/results_tables.py --check    # exit 1 if a block is stale

A generated block sits between ``<!-- generated: NAME -->`` and ``<!-- end: NAME -->`` in a
README; everything between the markers is replaced by the table rendered from NAME's JSON:

* ``fmnist_protocol``: ``configs/fashion_mnist/protocol_main_job.json`` (tools/fmnist_benchmark.py);
* ``fmnist_protocol_3seeds``: the earlier ``configs/fashion_mnist/protocol_3seeds.json``;
* ``main_job`` / ``main_job_validation``: ``docs/results/main_job*.json`` (fmnist_main_job.py);
* ``fmnist_reproduction``: that run vs. the earlier ``configs/fashion_mnist/benchmark_3seeds.json``;
* ``training_step``: ``docs/results/step.json`` (benchmark_step.py; its ``baseline_comparison``
  from compare_step_commits.py); ``step_summary``: its README summary;
* ``training_step_amp``: ``docs/results/step_amp.json`` (benchmark_step.py --amp);
* ``training_step_review_dtype``: ``docs/results/step_review_dtype.json`` (benchmark_step.py,
  the review path in bf16 and in fp32);
* ``bf16_protocol``: ``docs/results/bf16_protocol.json`` (amp_protocol.py);
* ``bf16_review_protocol`` / ``bf16_review_protocol_tskd``:
  ``docs/results/bf16_review_protocol[_tskd].json`` (amp_protocol.py --review-dtype);
* ``step_profile``: ``docs/results/profile_step.json`` (profile_step.py);
* ``grad_deviation``: ``docs/results/grad_deviation.json`` (grad_deviation.py);
* ``inference``: ``docs/results/inference.json`` (benchmark_inference.py);
* ``early_exit``: ``configs/tskd/early_exit_fmnist.json`` (early_exit_sweep.py);
* ``det_protocol``: ``configs/reviewkd_det/protocol_fmnist_coco.json`` (tools/det_benchmark.py).

``configs/fashion_mnist/metafile.yml`` is written whole, its results from the protocol JSON.

The benchmark scripts write under ``work_dirs/``; copying their JSON (and PNG) to the paths
above is what publishes a new measurement.
"""
import argparse
import functools
import json
import os.path as osp
import re
import sys
from typing import Callable, Dict, List

from mmreviewkd.experiments.amp_protocol import format_comparison as format_bf16_protocol
from mmreviewkd.experiments.benchmark_tables import (format_early_exit_table,
                                                     format_grad_deviation,
                                                     format_inference_table, format_profile,
                                                     format_step_pair, format_step_summary)
from mmreviewkd.experiments.det_protocol_table import format_summary as format_det_summary
from mmreviewkd.experiments.fmnist_recipe import METHODS, TEACHER
from mmreviewkd.experiments.main_job_table import render_saved_table
from mmreviewkd.experiments.protocol import format_summary

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
SOURCES = dict(
    fmnist_protocol='configs/fashion_mnist/protocol_main_job.json',
    fmnist_protocol_3seeds='configs/fashion_mnist/protocol_3seeds.json',
    fmnist_previous='configs/fashion_mnist/benchmark_3seeds.json',
    training_step='docs/results/step.json',
    training_step_amp='docs/results/step_amp.json',
    training_step_review_dtype='docs/results/step_review_dtype.json',
    bf16_protocol='docs/results/bf16_protocol.json',
    bf16_review_protocol='docs/results/bf16_review_protocol.json',
    bf16_review_protocol_tskd='docs/results/bf16_review_protocol_tskd.json',
    step_profile='docs/results/profile_step.json',
    grad_deviation='docs/results/grad_deviation.json',
    inference='docs/results/inference.json',
    early_exit='configs/tskd/early_exit_fmnist.json',
    main_job='docs/results/main_job.json',
    main_job_validation='docs/results/main_job_validation.json',
    det_protocol='configs/reviewkd_det/protocol_fmnist_coco.json',
)
FILES = {
    'README.md': ['main_job', 'step_summary'],
    'docs/main_job.md': ['main_job_validation'],
    'docs/benchmarks.md': ['fmnist_protocol', 'fmnist_protocol_3seeds', 'fmnist_reproduction',
                           'training_step', 'step_profile', 'bf16_protocol', 'training_step_amp',
                           'bf16_review_protocol', 'bf16_review_protocol_tskd',
                           'training_step_review_dtype', 'inference'],
    'configs/fashion_mnist/README.md': ['fmnist_protocol'],
    'configs/reviewkd/README.md': ['fmnist_protocol', 'grad_deviation'],
    'configs/tskd/README.md': ['fmnist_protocol', 'early_exit'],
    'configs/reviewkd_det/README.md': ['det_protocol'],
}


@functools.lru_cache(maxsize=None)
def _json(name: str) -> Dict:
    with open(osp.join(ROOT, SOURCES[name])) as f:
        return json.load(f)


def fmnist_protocol(name: str = 'fmnist_protocol') -> str:
    data = _json(name)
    return format_summary(data['summary'], data['settings'])


def fmnist_protocol_3seeds() -> str:
    return fmnist_protocol('fmnist_protocol_3seeds')


def main_job() -> str:
    """The README's main-job table: a saved run of tools/fmnist_main_job.py."""
    data = _json('main_job')
    table = render_saved_table(data)
    return f'{table}\n\nCommand: `{data["command"]}` (commit {data["commit"]}). {data["timing"]}\n'


def main_job_validation() -> str:
    """The validation runs that chose the main job's defaults."""
    data = _json('main_job_validation')
    parts = []
    for key in ('teacher30k', 'teacher50k'):
        run = data[key]
        parts.append(f'`{run["command"]}`\n\n{render_saved_table(run)}\n')
    return '\n'.join(parts) + f'\n{data["note"]}\n'


def fmnist_reproduction() -> str:
    """Each method of the earlier run vs. the fresh protocol run: is the difference in std?"""
    fresh, old = _json('fmnist_protocol_3seeds'), _json('fmnist_previous')
    lines = ['| method | earlier run | fresh run | difference | within the earlier std? |',
             '|---|---:|---:|---:|---|']
    for name, s_old in old['summary'].items():
        s_new = fresh['summary'].get(name)
        if s_new is None:
            continue
        diff = s_new['mean'] - s_old['mean']
        within = abs(diff) <= s_old['std'] if s_old['std'] > 0 else diff == 0
        lines.append(f'| {name} | {s_old["mean"]:.2f} ± {s_old["std"]:.2f} | '
                     f'{s_new["mean"]:.2f} ± {s_new["std"]:.2f} | {diff:+.2f} | '
                     f'{"yes" if within else "**no**"} |')
    return '\n'.join(lines) + '\n'


def training_step(name: str = 'training_step') -> str:
    data = _json(name)
    text = '\n'.join(format_step_pair(pair, row) for pair, row in data['pairs'].items())
    o = data.get('overhead')
    if o:
        text += (f'\nPer-step overhead of our machinery at batch {o["batch"]} ({o["pair"]}), '
                 f'where the ops cost little: {o["ours_s_per_step"] * 1e3:.1f} ms vs. '
                 f'{o["handwritten_s_per_step"] * 1e3:.1f} ms for the hand-written loop '
                 f'({o["ms_per_step"]:+.1f} ms per step).\n')
    return text


def training_step_amp() -> str:
    return training_step('training_step_amp')


def bf16_review_protocol_tskd() -> str:
    return format_bf16_protocol(_json('bf16_review_protocol_tskd'))


def training_step_review_dtype() -> str:
    return training_step('training_step_review_dtype')


def step_summary() -> str:
    return format_step_summary(_json('training_step'))


def bf16_protocol() -> str:
    return format_bf16_protocol(_json('bf16_protocol'))


def bf16_review_protocol() -> str:
    return format_bf16_protocol(_json('bf16_review_protocol'))


def inference() -> str:
    return format_inference_table(_json('inference'))


def early_exit() -> str:
    return format_early_exit_table(_json('early_exit'))


def step_profile() -> str:
    return format_profile(_json('step_profile'))


def grad_deviation() -> str:
    return format_grad_deviation(_json('grad_deviation'))


def det_protocol() -> str:
    return format_det_summary(_json('det_protocol'))


def fmnist_metafile() -> str:
    """The Fashion-MNIST metafile: every config of the folder with its protocol mean top-1."""
    data = _json('fmnist_protocol')
    lines = ['# Written by tools/analysis_tools/results_tables.py from protocol_main_job.json.',
             'Collections:', '  - Name: FashionMNIST-KD', '    Metadata:',
             '      Training Data: Fashion-MNIST', '    README: configs/fashion_mnist/README.md',
             '', 'Models:']
    rows = [('teacher', TEACHER[1])] + list(METHODS.values())
    for name, cfg in rows:
        if not cfg.startswith('fashion_mnist/'):
            continue
        lines += [f'  - Name: {osp.basename(cfg)[:-3]}', '    In Collection: FashionMNIST-KD',
                  f'    Config: configs/{cfg}']
        if name in data['summary']:
            s = data['summary'][name]
            lines += ['    Results:', '      - Task: Image Classification',
                      '        Dataset: Fashion-MNIST', '        Metrics:',
                      f'          Top 1 Accuracy: {s["mean"]:.2f}  # mean of {s["n"]} seeds, '
                      f'std {s["std"]:.2f}']
    return '\n'.join(lines) + '\n'


WHOLE_FILES: Dict[str, Callable[[], str]] = {
    'configs/fashion_mnist/metafile.yml': fmnist_metafile}

BLOCKS: Dict[str, Callable[[], str]] = dict(
    fmnist_protocol=fmnist_protocol, fmnist_reproduction=fmnist_reproduction, main_job=main_job,
    main_job_validation=main_job_validation, fmnist_protocol_3seeds=fmnist_protocol_3seeds,
    training_step=training_step, inference=inference, early_exit=early_exit,
    det_protocol=det_protocol, step_profile=step_profile, grad_deviation=grad_deviation,
    step_summary=step_summary, training_step_amp=training_step_amp, bf16_protocol=bf16_protocol,
    bf16_review_protocol=bf16_review_protocol, bf16_review_protocol_tskd=bf16_review_protocol_tskd,
    training_step_review_dtype=training_step_review_dtype)


def fill(text: str, name: str, body: str, path: str) -> str:
    """Replace the block ``name`` of ``text`` with ``body``."""
    pattern = re.compile(rf'(<!-- generated: {name} -->\n).*?(<!-- end: {name} -->)', re.S)
    if not pattern.search(text):
        raise KeyError(f'{path}: no block "<!-- generated: {name} -->" ... '
                       f'"<!-- end: {name} -->"')
    return pattern.sub(lambda m: m.group(1) + body + m.group(2), text)


def main(argv=None) -> List[str]:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--check', action='store_true',
                        help='do not write; exit 1 if a generated block differs from its JSON')
    args = parser.parse_args(argv)
    used = {name for names in FILES.values() for name in names}
    rendered = {name: fn() for name, fn in BLOCKS.items() if name in used}
    stale = []
    for path, names in FILES.items():
        full = osp.join(ROOT, path)
        with open(full) as f:
            text = f.read()
        new = text
        for name in names:
            new = fill(new, name, rendered[name], path)
        if new != text:
            stale.append(path)
            if not args.check:
                with open(full, 'w') as f:
                    f.write(new)
    for path, render in WHOLE_FILES.items():
        full = osp.join(ROOT, path)
        new = render()
        with open(full) as f:
            if f.read() == new:
                continue
        stale.append(path)
        if not args.check:
            with open(full, 'w') as f:
                f.write(new)
    verb = 'stale' if args.check else 'rewritten'
    print(f'{verb}: {", ".join(stale)}' if stale else 'all generated blocks are up to date')
    if args.check and stale:
        sys.exit(1)
    return stale


if __name__ == '__main__':
    main()
