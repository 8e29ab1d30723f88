"""The detection protocol on the embedded data (``tools/det_benchmark.py``): a teacher detector
trained once, then the student detector alone and with ReviewKD on the identical schedule over
paired seeds, COCO box AP on the evaluation canvases, mean +- std and per-seed paired
differences, and each run's training-step cost.

The data are generated Fashion-MNIST canvases (``tools/dataset_converters/make_fmnist_coco.py``)
with three splits: ``train``, ``holdout`` (validation for choices: canvases and items disjoint
from training) and ``val`` (the evaluation split, from the Fashion-MNIST test set). ReviewKD's
HCL weight is chosen on ``holdout`` at the first seed; ``val`` is only used for the published
numbers. Every run lives in its own folder and is reused when finished, so an interrupted
protocol resumes where it stopped. Seed s gives both methods the same seed and data order.
"""
import argparse
import glob
import json
import os
import os.path as osp
import statistics
import sys
import time
from typing import Dict, List, Optional

from .det_protocol_table import BOX_METRICS, REVIEWKD, STUDENT, TEACHER, summarise
from .paths import project_root
from .progress import run_logged

DESCRIPTION = ('The detection protocol on the embedded data: student detector alone vs with '
               'ReviewKD over paired seeds, COCO box AP.')
DET = osp.join('configs', 'reviewkd_det', 'fmnist_coco')
LABEL = '[det protocol]'

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
            f'val_dataloader.dataset.data_root={root}/',
            f'test_dataloader.dataset.data_root={root}/',
            f'test_dataloader.dataset.ann_file={ann}',
            f'test_dataloader.dataset.data_prefix.img={split}/',
            f'test_evaluator.ann_file={ann}', f'val_evaluator.ann_file={ann}',
            'train_dataloader.num_workers=0', 'train_dataloader.persistent_workers=False',
            'test_dataloader.num_workers=0', 'test_dataloader.persistent_workers=False']


def schedule_options(epochs: int, batch: int, train_images: int, seed: int) -> List[str]:
    """MMDet's 1x schedule scaled to ``epochs``: LR steps at 8/12 and 11/12 of the run, the
    linear warm-up shortened to one epoch (at most MMDet's 500 iterations); no validation
    during training (the test tool evaluates once at the end)."""
    iters = max(1, train_images // batch)
    steps = sorted({max(1, round(epochs * 8 / 12)), max(1, round(epochs * 11 / 12))})
    return [f'train_cfg.max_epochs={epochs}', f'train_dataloader.batch_size={batch}',
            f'param_scheduler.0.end={min(500, iters)}',
            f'param_scheduler.1.end={epochs}', f'param_scheduler.1.milestones={steps}',
            'val_cfg=None', 'val_dataloader=None', 'val_evaluator=None',
            f'randomness.seed={seed}', 'default_hooks.logger.interval=10']


def step_cost(work_dir: str) -> Dict[str, Optional[float]]:
    """Median seconds per training iteration (MMEngine's logged ``time``, the first logged
    window left out) from the run's ``scalars.json``."""
    files = sorted(glob.glob(osp.join(work_dir, '*', 'vis_data', 'scalars.json')))
    times = []
    for path in files:
        with open(path) as f:
            times += [json.loads(line)['time'] for line in f if '"time"' in line]
    times = times[1:] or times
    return dict(s_per_iter=round(statistics.median(times), 4) if times else None)


def run_tool(cmd: List[str], log: str) -> Dict[str, Optional[float]]:
    """Run a tool from the project root; return its wall seconds and peak RSS (MB)."""
    t0 = time.time()
    peak = run_logged(cmd, log, cwd=project_root(), label=LABEL)
    return dict(seconds=round(time.time() - t0, 1), peak_rss_mb=peak)


def train(name: str, config: str, work_dir: str, options: List[str]) -> Dict:
    """Train one detector with ``tools/train.py`` unless ``work_dir`` holds the finished run
    (an interrupted one resumes); return its cost record (``train_done.json``).

    Raises:
        RuntimeError: when ``work_dir`` holds a run made with other options.
    """
    done = osp.join(work_dir, 'train_done.json')
    made = dict(config=config, options=options)
    if osp.isfile(done):
        with open(done) as f:
            record = json.load(f)
        if record['made'] != made:
            raise RuntimeError(f'{work_dir} was trained with other settings; remove the folder '
                               'or use another --work-dir')
        print(f'{LABEL} reusing the trained {name} in {work_dir}', flush=True)
        return record
    print(f'{LABEL} training {name} -> {work_dir}', flush=True)
    cost = run_tool([sys.executable, 'tools/train.py', config, '--work-dir', work_dir, '--resume',
                     '--cfg-options', *options], osp.join(work_dir, 'train_stdout.log'))
    record = dict(made=made, **cost, **step_cost(work_dir))
    with open(done, 'w') as f:
        json.dump(record, f, indent=2)
    return record


def evaluate(config: str, work_dir: str, split: str, options: List[str]) -> Dict[str, float]:
    """COCO box metrics (AP in %, :data:`BOX_METRICS`) of a run's last checkpoint on
    ``split``, computed once with ``tools/test.py`` and kept in ``metrics_<split>.json``."""
    out = osp.join(work_dir, f'metrics_{split}.json')
    if not osp.isfile(out):
        with open(osp.join(work_dir, 'last_checkpoint')) as f:
            ckpt = f.read().strip()
        raw = osp.join(work_dir, f'test_metrics_{split}.json')
        run_tool([sys.executable, 'tools/test.py', config, ckpt, '--work-dir', work_dir,
                  '--metrics-out', raw, '--cfg-options', *options],
                 osp.join(work_dir, f'test_{split}_stdout.log'))
        with open(raw) as f:
            metrics = json.load(f)
        box = {k: round(100 * metrics[f'coco/{k}'], 2) for k in BOX_METRICS}
        with open(out, 'w') as f:
            json.dump(box, f, indent=2)
    with open(out) as f:
        return json.load(f)


def export_teacher(work_dir: str, path: str) -> str:
    """The teacher's weights as a plain detector checkpoint (for ``teacher_ckpt``)."""
    from mmreviewkd.apis.export import export_student
    if not osp.isfile(path):
        with open(osp.join(work_dir, 'last_checkpoint')) as f:
            export_student(f.read().strip(), path, student_prefix='')
    return path


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
    parser.add_argument('--seeds', type=int, nargs='+', default=[0, 1, 2])
    parser.add_argument('--quick', action='store_true',
                        help='the smoke version (a few canvases, one epoch; for tests)')
    parser.add_argument('--work-dir', default=osp.join('work_dirs', 'det_protocol'))
    parser.add_argument('--out', help='the JSON to write (default: <work-dir>/protocol.json)')
    return parser


def main(argv: Optional[List[str]] = None) -> Dict:
    """Run (or resume) the protocol; write and return its JSON."""
    args = build_parser().parse_args(argv)
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
    t_ckpt = export_teacher(t_dir, osp.join(work, 'teacher.pth'))
    print(f'{LABEL} {TEACHER[0]}: box AP {teacher["val"]["bbox_mAP"]:.2f}', flush=True)

    def reviewkd(weight: float, seed: int, split: str = 'val') -> List[str]:
        return opts(split, st['epochs'], seed) + [
            f'model.teacher_ckpt={t_ckpt}',
            f'model.distiller.distill_losses.loss_hcl.loss_weight={weight}']

    # the HCL weight: chosen on the holdout canvases at the first seed
    seed0 = args.seeds[0]
    choice = {}
    for w in st['hcl_weights']:
        d = osp.join(work, f'reviewkd_w{w}_s{seed0}')
        runs[osp.basename(d)] = train(f'{REVIEWKD[0]}, HCL weight {w}, seed {seed0}',
                                      cfg['reviewkd'], d, reviewkd(w, seed0))
        choice[w] = evaluate(cfg['reviewkd'], d, 'holdout',
                             reviewkd(w, seed0, 'holdout'))['bbox_mAP']
    weight = max(choice, key=lambda w: (choice[w], -w))
    print(f'{LABEL} HCL weight {weight} chosen on holdout (box AP {choice})', flush=True)

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
        print(f'{LABEL} seed {seed}: box AP student {per_seed[seed]["student"]["bbox_mAP"]:.2f}'
              f', ReviewKD {per_seed[seed]["reviewkd"]["bbox_mAP"]:.2f}', flush=True)

    result = dict(
        settings=dict(st, seeds=args.seeds, hcl_weight=weight, image_size=128,
                      detector='Faster R-CNN', evaluated_on='val (Fashion-MNIST test items)'),
        command='python tools/det_benchmark.py' + (' --quick' if args.quick else '')
        + f' --seeds {" ".join(map(str, args.seeds))}',
        teacher=teacher, hcl_weight_choice=dict(split='holdout', seed=seed0,
                                                box_ap={str(w): a for w, a in choice.items()}),
        per_seed={str(s): v for s, v in per_seed.items()}, summary=summarise(per_seed),
        runs={k: {c: v[c] for c in ('seconds', 'peak_rss_mb', 's_per_iter')}
              for k, v in runs.items()})
    out = args.out or osp.join(work, 'protocol.json')
    os.makedirs(osp.dirname(osp.abspath(out)), exist_ok=True)
    with open(out, 'w') as f:
        json.dump(result, f, indent=2)
    print(f'{LABEL} written {out}', flush=True)
    return result
