"""bf16 against fp32 on the Fashion-MNIST protocol (``tools/analysis_tools/amp_protocol.py``):
the same methods and seeds trained by the main job in both precisions, compared per seed
(paired: same data order, same initial weights). Two comparisons:

* the whole training step under bf16 autocast (``--amp``; the frozen teacher's forward included:
  MMEngine's ``optim_context`` wraps the model's forward), from two work dirs;
* only ReviewKD's review path in bf16 (``--review-dtype bfloat16`` against ``float32``,
  ``ReviewKDConnector(compute_dtype=...)``), from one work dir.

Step times are measured separately (``benchmark_step.py``): the runs' minutes depend on what
else the machine did."""
import json
import math
import os.path as osp
from typing import Dict, List, Tuple

from .protocol import mean_std


AMP_RUNS = ('', '_amp')  # the run-tag suffixes of fp32 and --amp runs
REVIEW_DTYPE_RUNS = ('_review-float32', '_review-bfloat16')  # --review-dtype float32 / bfloat16
AMP_TEXT = ('bf16 = the training step under bfloat16 autocast (`--amp`; the teacher is the same '
            'fp32 checkpoint, its forward runs under the autocast too)')
REVIEW_DTYPE_TEXT = ("ReviewKD's review path only: bf16 = `--review-dtype bfloat16` "
                     "(`compute_dtype='bfloat16'`, what the configs' `'auto'` gives on this "
                     "AMX CPU), fp32 = `--review-dtype float32`; student, teacher and HCL in "
                     "fp32 in both")


def seed_results(work_dir: str, seed: int, suffix: str, tag: str = 'e1_n20000_b64') -> Dict:
    """The main job's saved results of one seed (``results_<tag>_s<seed><suffix>_test.json``,
    ``suffix`` e.g. ``'_amp'``)."""
    name = f'results_{tag}_s{seed}{suffix}_test.json'
    with open(osp.join(work_dir, name)) as f:
        return json.load(f)


def rows_of(results: Dict) -> Dict[str, float]:
    """Per protocol row (e.g. 'TSKD: vote') of the students: its top-1."""
    return {name: row['top1'] for key, run in results['results'].items() if key != 'teacher'
            for name, row in run.get('rows', {}).items()}


def compare(fp32_dir: str, amp_dir: str, seeds: List[int],
            tag: str = 'e1_n20000_b64', suffixes: Tuple[str, str] = AMP_RUNS,
            what: str = AMP_TEXT) -> Dict:
    """Per row: fp32 and bf16 top-1 (mean +- std over ``seeds``), the paired difference
    (bf16 - fp32 on the same seed), whether it is within noise (|mean| <= 2 standard errors of
    the paired differences, std / sqrt(n)).

    Args:
        fp32_dir (str): Work dir of the fp32 runs.
        amp_dir (str): Work dir of the bf16 runs (may be ``fp32_dir``).
        seeds (list[int]): The seeds, each trained in both.
        tag (str): The runs' settings tag.
        suffixes (tuple[str, str]): Run-tag suffixes of the fp32 and the bf16 runs
            (:data:`AMP_RUNS`, :data:`REVIEW_DTYPE_RUNS`).
        what (str): What "bf16" means here, for the table's caption.
    """
    per_seed = {s: (rows_of(seed_results(fp32_dir, s, suffixes[0], tag)),
                    rows_of(seed_results(amp_dir, s, suffixes[1], tag))) for s in seeds}
    names = [n for n in per_seed[seeds[0]][0]
             if all(n in per_seed[s][0] and n in per_seed[s][1] for s in seeds)]
    rows = {}
    for name in names:
        fp32 = [per_seed[s][0][name] for s in seeds]
        bf16 = [per_seed[s][1][name] for s in seeds]
        diff = mean_std([b - a for a, b in zip(fp32, bf16)])
        se = diff['std'] / math.sqrt(diff['n'])
        rows[name] = dict(fp32=mean_std(fp32), bf16=mean_std(bf16), diff=diff,
                          # one seed has no spread to judge by
                          within_noise=abs(diff['mean']) <= 2 * se if len(seeds) > 1 else None)
    return dict(seeds=seeds, rows=rows, what=what)


def format_comparison(data: Dict) -> str:
    """The markdown table of :func:`compare`'s result."""
    seeds = data['seeds']
    lines = [f'Fashion-MNIST test top-1 (%, 10000 test images), mean ± std over {len(seeds)} '
             f'paired seeds {seeds}; {data.get("what", AMP_TEXT)}; within noise = |mean '
             f'difference| <= 2 standard errors of the paired differences.', '',
             '| method | fp32 | bf16 | bf16 - fp32 (paired) | within noise |',
             '|---|---:|---:|---:|---|']
    for name, r in data['rows'].items():
        lines.append(
            f'| {name} | {r["fp32"]["mean"]:.2f} ± {r["fp32"]["std"]:.2f} | '
            f'{r["bf16"]["mean"]:.2f} ± {r["bf16"]["std"]:.2f} | '
            f'{r["diff"]["mean"]:+.2f} ± {r["diff"]["std"]:.2f} | '
            f'{ {True: "yes", False: "**no**", None: "–"}[r["within_noise"]]} |')
    return '\n'.join(lines) + '\n'
