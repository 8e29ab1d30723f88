"""Names, summary and markdown table of the detection protocol
(:mod:`mmreviewkd.experiments.det_protocol`): box AP mean +- std over seeds and ReviewKD's
paired differences to the student alone."""
import statistics
from typing import Dict, List, Optional

from .protocol import mean_std as protocol_mean_std

TEACHER = ('teacher (Faster R-CNN R50-FPN)', 'faster-rcnn_r50_fpn_fmnistcoco.py')
STUDENT = ('student alone (Faster R-CNN R18-FPN)', 'faster-rcnn_r18_fpn_fmnistcoco.py')
REVIEWKD = ('ReviewKD (R50-FPN -> R18-FPN)', 'reviewkd_faster-rcnn_r50_r18_fpn_fmnistcoco.py')
BOX_METRICS = ('bbox_mAP', 'bbox_mAP_50', 'bbox_mAP_75', 'bbox_mAP_s', 'bbox_mAP_m',
               'bbox_mAP_l')


def mean_std(values: List[Optional[float]]) -> Optional[Dict]:
    """:func:`mmreviewkd.experiments.protocol.mean_std` with mean and std rounded to 0.001;
    None if any value is None (COCO has no object of that size)."""
    if any(v is None for v in values):
        return None
    out = protocol_mean_std(values)
    return dict(out, mean=round(out['mean'], 3), std=round(out['std'], 3))


def summarise(per_seed: Dict[int, Dict[str, Dict]]) -> Dict:
    """Per method and metric mean +- std over seeds, and ReviewKD's paired differences to the
    student alone (same seed, same evaluation canvases)."""
    seeds = sorted(per_seed)
    out = {}
    for method in ('student', 'reviewkd'):
        out[method] = {k: mean_std([per_seed[s][method][k] for s in seeds])
                       for k in BOX_METRICS}
    out['diff'] = {}
    for k in BOX_METRICS:
        pairs = [(per_seed[s]['reviewkd'][k], per_seed[s]['student'][k]) for s in seeds]
        out['diff'][k] = mean_std([None if None in p else round(p[0] - p[1], 1)
                                   for p in pairs])
    return out


def _ms(row: Optional[Dict], sign: str = '') -> str:
    return '–' if row is None else f"{row['mean']:{sign}.1f} ± {row['std']:.1f}"


def _num(value: Optional[float], fmt: str) -> str:
    return '–' if value is None else format(value, fmt)


def format_summary(result: Dict) -> str:
    """The protocol's markdown table (box AP in %, mean ± std over seeds; the paired row is
    ReviewKD minus the student per seed; '–' where COCO has no object of that size) with the
    per-seed values, the HCL-weight choice and the training-step cost."""
    sm, st, runs = result['summary'], result['settings'], result['runs']
    seeds = st['seeds']

    def cost(prefix: str) -> str:
        rs = [runs[f'{prefix}_s{s}'] for s in seeds if f'{prefix}_s{s}' in runs]
        its = [r['s_per_iter'] for r in rs if r.get('s_per_iter')]
        mem = [r['peak_rss_mb'] for r in rs if r.get('peak_rss_mb')]
        return (f"{_num(statistics.mean(its) if its else None, '.3f')} | "
                f"{_num(max(mem) if mem else None, '.0f')}")

    head = ['box AP', 'AP50', 'AP75', 'APs', 'APm', 'APl']
    lines = [f"| model | {' | '.join(head)} | s / iter | peak RSS (MB) |",
             '|---|' + '---:|' * (len(head) + 2)]
    t, t_run = result['teacher']['val'], runs['teacher']
    lines.append(f"| {TEACHER[0]} (one run) | "
                 + ' | '.join(_num(t[k], '.1f') for k in BOX_METRICS)
                 + f" | {_num(t_run.get('s_per_iter'), '.3f')} | "
                 f"{_num(t_run.get('peak_rss_mb'), '.0f')} |")
    w = st['hcl_weight']
    lines.append(f"| {STUDENT[0]} | " + ' | '.join(_ms(sm['student'][k]) for k in BOX_METRICS)
                 + f" | {cost('student')} |")
    lines.append(f"| {REVIEWKD[0]}, HCL weight {w:g} | "
                 + ' | '.join(_ms(sm['reviewkd'][k]) for k in BOX_METRICS)
                 + f" | {cost(f'reviewkd_w{w}')} |")
    lines.append('| ReviewKD − student, paired per seed | '
                 + ' | '.join(_ms(sm['diff'][k], '+') for k in BOX_METRICS) + ' | | |')
    per = ', '.join(f"seed {s}: {_num(result['per_seed'][str(s)]['student']['bbox_mAP'], '.1f')}"
                    f" -> {_num(result['per_seed'][str(s)]['reviewkd']['bbox_mAP'], '.1f')}"
                    for s in seeds)
    box_ap = result['hcl_weight_choice']['box_ap']
    choice = (f"chosen on the {st['holdout']} holdout canvases at seed "
              f"{result['hcl_weight_choice']['seed']} (box AP "
              + ', '.join(f'weight {k}: {_num(v, ".1f")}' for k, v in box_ap.items()) + ')'
              if box_ap else 'the only candidate')
    lines += ['', f"Box AP per seed (student -> ReviewKD): {per}. {len(seeds)} paired seeds "
              f"(same data order and initial student weights); {st['train']} training "
              f"canvases, {st['test']} evaluation canvases ({st['evaluated_on']}), "
              f"{st['image_size']}x{st['image_size']}, student {st['epochs']} epochs, teacher "
              f"{st['teacher_epochs']} epochs, batch {st['batch']}. HCL weight {w:g}: {choice}. "
              "s / iter: each run's median logged training step (MMEngine, 2 CPU threads), "
              "mean over seeds; peak RSS: the training process's, largest over seeds. "
              f"Command: `{result['command']}`."]
    return '\n'.join(lines) + '\n'


def plot_per_seed(result: Dict, path: str) -> None:
    """Box AP per seed, student alone vs ReviewKD (paired lines), as ``path`` (PNG)."""
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    seeds = result['settings']['seeds']
    per = result['per_seed']
    fig, ax = plt.subplots(figsize=(5, 4))
    for s in seeds:
        ax.plot([0, 1], [per[str(s)]['student']['bbox_mAP'], per[str(s)]['reviewkd']['bbox_mAP']],
                marker='o', label=f'seed {s}')
    ax.axhline(result['teacher']['val']['bbox_mAP'], color='grey', ls='--', label='teacher')
    ax.set_xticks([0, 1])
    ax.set_xticklabels([STUDENT[0], f"ReviewKD, HCL weight {result['settings']['hcl_weight']:g}"],
                       fontsize=7)
    ax.set_xlim(-0.3, 1.3)
    ax.set_ylabel('box AP (%)')
    ax.set_title('Fashion-MNIST canvases, Faster R-CNN R50-FPN -> R18-FPN', fontsize=9)
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
