"""The detection protocol on the embedded data (``tools/det_benchmark.py``): a teacher detector
trained once, then the student detector alone and with ReviewKD on the identical schedule over
paired seeds, COCO box AP on the evaluation canvases, mean +- std and per-seed paired
differences, and each run's training-step cost.

The data are generated Fashion-MNIST canvases (``tools/dataset_converters/make_fmnist_coco.py``)
with three splits: ``train``, ``holdout`` (validation for choices: canvases and items disjoint
from training) and ``val`` (the evaluation split, from the Fashion-MNIST test set). ReviewKD's
HCL weight is chosen on ``holdout`` at a seed of its own (``--choice-seed``, not one of the
published seeds, so the chosen run's luck does not enter the published numbers); ``val`` is
only used for the published numbers. Every run lives in its own folder and is reused when it was
made with the same settings, so an interrupted protocol resumes where it stopped. Seed s gives
both methods the same seed, data order and initial student weights (``pair_student_init``).
"""
import argparse
import json
import os
import os.path as osp
import sys
from typing import Dict, List, Optional

from .det_protocol_runs import LABEL, evaluate, export_teacher, run_tool, train
from .det_protocol_table import REVIEWKD, STUDENT, TEACHER, plot_per_seed, summarise
from .paths import project_root

DESCRIPTION = ('The detection protocol on the embedded data: student detector alone vs with '
               'ReviewKD over paired seeds, COCO box AP.')
DET = osp.join('configs', 'reviewkd_det', 'fmnist_coco')

# The published schedule and its smoke version (tests): canvases per split, epochs, batch and
# the HCL-weight candidates compared on the holdout split.
SETTINGS = dict(
    full=dict(train=400, holdout=200, test=500, epochs=8, teacher_epochs=16, batch=8,
              hcl_weights=[1.0, 2.0]),
    quick=dict(train=8, holdout=4, test=4, epochs=1, teacher_epochs=1, batch=2,
               hcl_weights=[1.0]))


def data_options(root: str, split: str) -> List[str]:
    """``--cfg-options`` pointing a config at the generated data in ``root``, evaluating on
    ``split`` (``'holdout'`` or ``'val'``)."""
    ann = f'{root}/annotations/instances_{split}.json'
    return [f'train_dataloader.dataset.data_root={root}/',
            f'test_dataloader.dataset.data_root={root}/',
            f'test_dataloader.dataset.ann_file={ann}',
            f'test_dataloader.dataset.data_prefix.img={split}/',
            f'test_evaluator.ann_file={ann}',
            'train_dataloader.num_workers=0', 'train_dataloader.persistent_workers=False',
            'test_dataloader.num_workers=0', 'test_dataloader.persistent_workers=False']


def schedule_options(epochs: int, batch: int, train_images: int, seed: int) -> List[str]:
    """MMDet's 1x schedule scaled to ``epochs``: LR steps after 8/12 and 11/12 of the epochs
    (rounded, kept inside the run: a step at the last epoch would never act), the linear
    warm-up shortened to one epoch (at most MMDet's 500 iterations); no validation during
    training (the test tool evaluates once at the end)."""
    iters = max(1, train_images // batch)
    steps = sorted({min(epochs - 1, int(epochs * f + 0.5)) for f in (8 / 12, 11 / 12)} - {0})
    return [f'train_cfg.max_epochs={epochs}', f'train_dataloader.batch_size={batch}',
            f'param_scheduler.0.end={min(500, iters)}',
            f'param_scheduler.1.end={epochs}', f'param_scheduler.1.milestones={steps}',
            'val_cfg=None', 'val_dataloader=None', 'val_evaluator=None',
            f'randomness.seed={seed}', 'default_hooks.logger.interval=10']


def make_data(st: Dict, root: str) -> None:
    """Generate the three splits into ``root`` (once; regenerated when the counts change)."""
    stamp = osp.join(root, 'made_with.json')
    want = {k: st[k] for k in ('train', 'holdout', 'test')}
    if osp.isfile(stamp):
        with open(stamp) as f:
            if json.load(f) == want:
                return
    run_tool([sys.executable, 'tools/dataset_converters/make_fmnist_coco.py', '--src',
              osp.join(project_root(), 'data', 'fashion_mnist'), '--out', root, '--train',
              str(st['train']), '--holdout', str(st['holdout']), '--val', str(st['test'])],
             osp.join(root, 'make_stdout.log'))
    with open(stamp, 'w') as f:
        json.dump(want, f)


def build_parser() -> argparse.ArgumentParser:
    """The command line of ``tools/det_benchmark.py``."""
    parser = argparse.ArgumentParser(description=DESCRIPTION)
    parser.add_argument('--seeds', type=int, nargs='+', default=[1, 2, 3],
                        help='the published, paired seeds')
    parser.add_argument('--choice-seed', type=int, default=0,
                        help='the seed of the HCL-weight candidates (not a published seed)')
    parser.add_argument('--quick', action='store_true',
                        help='the smoke version (a few canvases, one epoch; for tests)')
    parser.add_argument('--work-dir', default=osp.join('work_dirs', 'det_protocol'))
    parser.add_argument('--out', help='the JSON to write, its plot beside it as .png (default: '
                                      '<work-dir>/protocol.json)')
    return parser


def main(argv: Optional[List[str]] = None) -> Dict:
    """Run (or resume) the protocol; write and return its JSON.

    Raises:
        ValueError: when ``--choice-seed`` is one of ``--seeds``.
    """
    args = build_parser().parse_args(argv)
    if args.choice_seed in args.seeds:
        raise ValueError(f'--choice-seed {args.choice_seed} is one of --seeds {args.seeds}: '
                         'the run that chose the HCL weight would enter the published numbers')
    st = dict(SETTINGS['quick' if args.quick else 'full'])
    work = osp.abspath(args.work_dir)
    root = osp.join(work, 'data')
    make_data(st, root)
    cfg = {k: osp.join(project_root(), DET, c[1])
           for k, c in dict(teacher=TEACHER, student=STUDENT, reviewkd=REVIEWKD).items()}

    def opts(split: str, epochs: int, seed: int) -> List[str]:
        return data_options(root, split) + schedule_options(epochs, st['batch'], st['train'],
                                                            seed)

    t_dir = osp.join(work, 'teacher')
    runs = dict(teacher=train(TEACHER[0], cfg['teacher'], t_dir,
                              opts('val', st['teacher_epochs'], 0)))
    teacher = {s: evaluate(cfg['teacher'], t_dir, s, opts(s, st['teacher_epochs'], 0))
               for s in ('holdout', 'val')}
    t_ckpt = export_teacher(t_dir)
    print(f'{LABEL} {TEACHER[0]}: box AP {teacher["val"]["bbox_mAP"]}', flush=True)

    def reviewkd(weight: float, seed: int, split: str = 'val') -> List[str]:
        # pair_student_init: the student starts from the student-alone run's weights
        return opts(split, st['epochs'], seed) + [
            f'model.teacher_ckpt={t_ckpt}', 'model.pair_student_init=True',
            f'model.distiller.distill_losses.loss_hcl.loss_weight={weight}']

    # the HCL weight: chosen on the holdout canvases at a seed that is not published (a single
    # candidate needs no choice runs)
    candidates = st['hcl_weights'] if len(st['hcl_weights']) > 1 else []
    choice = {}
    for w in candidates:
        d = osp.join(work, f'reviewkd_w{w}_s{args.choice_seed}')
        runs[osp.basename(d)] = train(f'{REVIEWKD[0]}, HCL weight {w}, seed {args.choice_seed}',
                                      cfg['reviewkd'], d, reviewkd(w, args.choice_seed))
        choice[w] = evaluate(cfg['reviewkd'], d, 'holdout',
                             reviewkd(w, args.choice_seed, 'holdout'))['bbox_mAP']
    weight = max(choice, key=lambda w: (choice[w], -w)) if choice else st['hcl_weights'][0]
    print(f'{LABEL} HCL weight {weight} (holdout box AP per candidate: {choice or "one"})',
          flush=True)

    per_seed = {}
    for seed in args.seeds:
        s_dir = osp.join(work, f'student_s{seed}')
        r_dir = osp.join(work, f'reviewkd_w{weight}_s{seed}')
        runs[osp.basename(s_dir)] = train(f'{STUDENT[0]}, seed {seed}', cfg['student'], s_dir,
                                          opts('val', st['epochs'], seed))
        runs[osp.basename(r_dir)] = train(f'{REVIEWKD[0]}, seed {seed}', cfg['reviewkd'], r_dir,
                                          reviewkd(weight, seed))
        per_seed[seed] = dict(
            student=evaluate(cfg['student'], s_dir, 'val', opts('val', st['epochs'], seed)),
            reviewkd=evaluate(cfg['reviewkd'], r_dir, 'val', reviewkd(weight, seed)))
        print(f'{LABEL} seed {seed}: box AP student {per_seed[seed]["student"]["bbox_mAP"]}, '
              f'ReviewKD {per_seed[seed]["reviewkd"]["bbox_mAP"]}', flush=True)

    result = dict(
        settings=dict(st, seeds=args.seeds, hcl_weight=weight, image_size=128,
                      detector='Faster R-CNN', evaluated_on='val (Fashion-MNIST test items)'),
        command='python tools/det_benchmark.py' + (' --quick' if args.quick else '')
        + f' --seeds {" ".join(map(str, args.seeds))} --choice-seed {args.choice_seed}',
        teacher=teacher, hcl_weight_choice=dict(split='holdout', seed=args.choice_seed,
                                                box_ap={str(w): a for w, a in choice.items()}),
        per_seed={str(s): v for s, v in per_seed.items()}, summary=summarise(per_seed),
        runs={k: {c: v.get(c) for c in ('seconds', 'resumed', 'peak_rss_mb', 's_per_iter',
                                         'code', 'code_warning')}
              for k, v in runs.items()})
    out = args.out or osp.join(work, 'protocol.json')
    os.makedirs(osp.dirname(osp.abspath(out)), exist_ok=True)
    with open(out, 'w') as f:
        json.dump(result, f, indent=2)
    plot_per_seed(result, osp.splitext(out)[0] + '.png')
    print(f'{LABEL} written {out} and its plot (.png)', flush=True)
    return result
