"""Names, summary and markdown table of the detection protocol
(:mod:`mmreviewkd.experiments.det_protocol`): box AP mean +- std over seeds and ReviewKD's
paired differences to the student alone."""
import statistics
from typing import Dict, List

TEACHER = ('teacher (Faster R-CNN R50-FPN)', 'faster-rcnn_r50_fpn_fmnistcoco.py')
STUDENT = ('student alone (Faster R-CNN R18-FPN)', 'faster-rcnn_r18_fpn_fmnistcoco.py')
REVIEWKD = ('ReviewKD (R50-FPN -> R18-FPN)', 'reviewkd_faster-rcnn_r50_r18_fpn_fmnistcoco.py')
BOX_METRICS = ('bbox_mAP', 'bbox_mAP_50', 'bbox_mAP_75', 'bbox_mAP_s', 'bbox_mAP_m',
               'bbox_mAP_l')


def mean_std(values: List[float]) -> Dict:
    """Mean, sample std (0 for one value), count and the values."""
    return dict(mean=round(statistics.mean(values), 3),
                std=round(statistics.stdev(values), 3) if len(values) > 1 else 0.0,
                n=len(values), values=values)


def summarise(per_seed: Dict[str, Dict[str, Dict]]) -> Dict:
    """Per method and metric mean +- std over seeds, and ReviewKD's paired differences to the
    student alone (same seed, same evaluation canvases)."""
    seeds = sorted(per_seed)
    out = {}
    for method in ('student', 'reviewkd'):
        out[method] = {k: mean_std([per_seed[s][method][k] for s in seeds])
                       for k in BOX_METRICS}
    out['diff'] = {k: mean_std([round(per_seed[s]['reviewkd'][k] - per_seed[s]['student'][k], 2)
                                for s in seeds]) for k in BOX_METRICS}
    return out


def _ms(row: Dict) -> str:
    return '–' if row['mean'] < 0 else f"{row['mean']:.2f} ± {row['std']:.2f}"


def format_summary(result: Dict) -> str:
    """The protocol's markdown table (box AP in %, mean ± std over seeds; the paired row is
    ReviewKD minus the student per seed) with the per-seed values, the HCL-weight choice and
    the training-step cost."""
    sm, st, runs = result['summary'], result['settings'], result['runs']
    seeds = st['seeds']

    def cost(prefix: str) -> str:
        rs = [v for k, v in runs.items() if k in [f'{prefix}_s{s}' for s in seeds]]
        its = [r['s_per_iter'] for r in rs if r.get('s_per_iter')]
        mem = [r['peak_rss_mb'] for r in rs if r.get('peak_rss_mb')]
        return (f"{statistics.mean(its):.3f} | {max(mem):.0f}" if its and mem else '– | –')

    head = ['box AP', 'AP50', 'AP75', 'APs', 'APm', 'APl']
    lines = [f"| model | {' | '.join(head)} | s / iter | peak RSS (MB) |",
             '|---|' + '---:|' * (len(head) + 2)]
    t = result['teacher']['val']
    t_run = runs['teacher']
    lines.append(f"| {TEACHER[0]} (one run) | "
                 + ' | '.join('–' if t[k] < 0 else f'{t[k]:.2f}' for k in BOX_METRICS)
                 + f" | {t_run['s_per_iter']:.3f} | {t_run['peak_rss_mb']:.0f} |")
    w = st['hcl_weight']
    lines.append(f"| {STUDENT[0]} | " + ' | '.join(_ms(sm['student'][k]) for k in BOX_METRICS)
                 + f" | {cost('student')} |")
    lines.append(f"| {REVIEWKD[0]}, HCL weight {w:g} | "
                 + ' | '.join(_ms(sm['reviewkd'][k]) for k in BOX_METRICS)
                 + f" | {cost(f'reviewkd_w{w}')} |")
    lines.append('| ReviewKD − student, paired per seed | '
                 + ' | '.join(f"{sm['diff'][k]['mean']:+.2f} ± {sm['diff'][k]['std']:.2f}"
                              for k in BOX_METRICS) + ' | | |')
    per = ', '.join(f"seed {s}: {result['per_seed'][str(s)]['student']['bbox_mAP']:.2f} -> "
                    f"{result['per_seed'][str(s)]['reviewkd']['bbox_mAP']:.2f}" for s in seeds)
    choice = ', '.join(f'{k}: {v:.2f}' for k, v in result['hcl_weight_choice']['box_ap'].items())
    lines += ['', f"Box AP per seed (student -> ReviewKD): {per}. {len(seeds)} paired seeds; "
              f"{st['train']} training canvases, {st['test']} evaluation canvases "
              f"({st['evaluated_on']}), {st['image_size']}x{st['image_size']}, student "
              f"{st['epochs']} epochs, teacher {st['teacher_epochs']} epochs, batch "
              f"{st['batch']}. HCL weight chosen on the {st['holdout']} holdout canvases at seed "
              f"{result['hcl_weight_choice']['seed']} (box AP {choice}). s / iter: median "
              f"training step (2 CPU threads); peak RSS: the training process's. Command: "
              f"`{result['command']}`."]
    return '\n'.join(lines) + '\n'
