"""The main job's table: top-1 +- binomial s.e., the paired difference of each student to the
student alone (marked ``*`` beyond 2 s.e., ``(within noise)`` otherwise) and, where the
published protocol was run at the same settings, its mean +- std beside each row."""
import json
import os.path as osp
from typing import Dict, List, Optional

import numpy as np

from mmreviewkd.evaluation.uncertainty import binomial_se, noise_mark, paired_difference
from .fmnist_recipe import METHODS, TEACHER
from .paths import project_root


def protocol_json() -> str:
    """The published multi-seed protocol at the main job's quick settings
    (``tools/fmnist_benchmark.py``)."""
    return osp.join(project_root(), 'configs', 'fashion_mnist', 'protocol_main_job.json')


def correct_vectors(predictions: str) -> Dict[str, np.ndarray]:
    """Per-image correctness of a run's predictions (a ``--out`` pickle of tools/test.py).

    Returns:
        ``'pred'`` (the model's prediction: the vote for a multi-exit student) and, for a
        multi-exit student, ``'deepest'`` (its deepest exit alone) and ``'soft'`` (the
        equal-weight vote of its exits); boolean arrays of shape (N,).
    """
    import torch  # noqa: F401  (the pickle holds tensors)
    from mmengine.fileio import load
    preds = load(predictions)
    gt = np.array([int(p['gt_label'].reshape(-1)[0]) for p in preds])
    out = {'pred': np.array([int(p['pred_label'].reshape(-1)[0]) for p in preds]) == gt}
    if 'exit_scores' in preds[0]:
        probs = np.stack([np.asarray(p['exit_scores']) for p in preds])  # (N, K, C)
        out['deepest'] = probs[:, -1].argmax(-1) == gt
        out['soft'] = probs.mean(1).argmax(-1) == gt
    return out


def table_rows(results: Dict, methods: List[str], split: str = 'test') -> List[Dict]:
    """One row per reported model: top-1, its standard error and (students) the paired
    difference to the student alone, from each run's predictions (``results[key]
    ['predictions']``)."""
    vectors = {key: correct_vectors(results[key]['predictions'])
               for key in ['teacher'] + methods}
    rows = [dict(key='teacher', name=TEACHER[0], ref='teacher', correct=vectors['teacher']['pred'],
                 minutes=results['teacher'].get('train_minutes', 0))]
    for key in methods:
        name = METHODS[key][0]
        minutes = results[key].get('train_minutes', 0)
        if 'deepest' not in vectors[key]:
            rows.append(dict(key=key, name=name, ref=name, correct=vectors[key]['pred'],
                             minutes=minutes))
            continue
        weights = results[key].get('vote_weights', {}).get('weights')
        k = len(weights) if weights else 3
        rows.append(dict(key=key, name=f'{name}: deepest exit', ref=f'{name}: deepest exit',
                         correct=vectors[key]['deepest'], minutes=minutes))
        rows.append(dict(key=key, name=f'{name}: vote of {k} exits, equal weights',
                         ref=f'{name}: soft vote', correct=vectors[key]['soft'], minutes=None))
        if weights:
            w = '/'.join(f'{x:.1f}' for x in weights)
            fit = 'fitted on val' + (' (in-sample here)' if split == 'val' else '')
            rows.append(dict(key=key, name=f'{name}: vote, weights {w} {fit}',
                             ref=f'{name}: vote', correct=vectors[key]['pred'], minutes=None))
    base = vectors['student']['pred'] if 'student' in vectors else None
    for row in rows:
        row['top1'] = 100.0 * float(row['correct'].mean())
        row['se'] = binomial_se(row['correct'])
        if base is not None and row['key'] not in ('teacher', 'student'):
            diff = paired_difference(row['correct'], base)
            row.update(diff=diff['diff'], diff_se=diff['se'], beyond_noise=diff['beyond_noise'])
    return rows


def published_protocol(settings: Dict) -> Dict[str, Dict]:
    """Mean +- std per row of the committed protocol, if it was run with these ``settings``
    (seed and evaluation split aside); {} otherwise."""
    path = protocol_json()
    if not osp.isfile(path):
        return {}
    with open(path) as f:
        protocol = json.load(f)
    ours = {k: v for k, v in settings.items() if k not in ('seed', 'eval_split')}
    theirs = {k: v for k, v in protocol.get('settings', {}).items() if k in ours}
    return protocol['summary'] if theirs == ours else {}


def format_table(rows: List[Dict], header: str, reference: Dict[str, Dict],
                 split: str = 'test', n: Optional[int] = None) -> str:
    """The main job's markdown table; ``n`` (the number of evaluated images) defaults to the
    length of the rows' ``correct`` vectors."""
    n = n or len(rows[0]['correct'])
    seeds = next(iter(reference.values()))['n'] if reference else None
    images = 'validation' if split == 'val' else 'test'
    ref_head = f' published protocol ({seeds} seeds) |' if reference else ''
    lines = [header, '',
             f'| method | top-1 (%) ± s.e. ({n} {images} images) | vs student alone (paired) |'
             f'{ref_head} minutes |', '|---|---:|---:|' + ('---:|' if reference else '') + '---:|']
    for row in rows:
        diff = noise_mark(row['diff'], row['diff_se']) if 'diff' in row else ''
        ref = reference.get(row['ref'])
        ref_text = (f' {ref["mean"]:.2f} ± {ref["std"]:.2f} |' if ref else ' — |') if reference \
            else ''
        minutes = '' if row['minutes'] is None else f'{row["minutes"]:.1f}'
        lines.append(f'| {row["name"]} | {row["top1"]:.2f} ± {row["se"]:.2f} | {diff} |'
                     f'{ref_text} {minutes} |')
    tail = (' (the protocol column: mean ± std over seeds at these settings, on the test set).'
            if reference else '.')
    lines += ['', f'`*`: the difference exceeds 2 standard errors of the paired difference on '
              f'these {images} images; `(within noise)`: it does not. Seed-to-seed variation of '
              f'training comes on top{tail}']
    return '\n'.join(lines)


def render_saved_table(summary: Dict) -> str:
    """The table of a saved ``results_<split>.json``, with the protocol column as published
    now (used by tools/analysis_tools/results_tables.py for the README)."""
    table = summary['table']
    reference = published_protocol(summary['settings']) if table['split'] == 'test' else {}
    return format_table(table['rows'], table['header'], reference, table['split'], table['n'])
