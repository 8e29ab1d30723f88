"""The main job on the embedded default data (``tools/fmnist_main_job.py``): the teacher once
(cached by its settings), then every chosen student on the same images, evaluated with
:mod:`.main_job_runs` and reported with :mod:`.main_job_table`.

Writes under the work dir one folder per run (logs, checkpoints, ``test_metrics_<split>.json``,
``predictions_<split>.pkl``, ``vote_weights.json``), ``results_<split>.json`` (settings, every
run's metrics, the table) and ``results_<split>.md``. Usage and data: docs/main_job.md.
"""
import argparse
import filecmp
import json
import os
import os.path as osp
import shutil
import time
from typing import Dict, List, Optional

from . import main_job_runs as runs
from .fmnist_recipe import (DEFAULT_METHODS, METHODS, NO_TEACHER, RELATIVE_COST, REVIEW, TEACHER,
                            TRAIN_PART, VAL_SIZE, eval_options, job_settings, train_options)
from .machine import choose_threads
from .main_job_table import format_table, published_protocol, table_rows
from .paths import project_root
from .progress import JobClock

DESCRIPTION = ('The main job on the embedded default data: distillation on Fashion-MNIST, end '
               'to end.')


def build_parser() -> argparse.ArgumentParser:
    """The command line of ``tools/fmnist_main_job.py``."""
    parser = argparse.ArgumentParser(description=DESCRIPTION)
    parser.add_argument('--full', action='store_true',
                        help=f'all {TRAIN_PART} training images and 15 epochs per model')
    parser.add_argument('--epochs', type=int, help='epochs per student (quick default: 1)')
    parser.add_argument('--teacher-epochs', type=int, help='teacher epochs (quick default: 1)')
    parser.add_argument('--batch-size', type=int,
                        help='training batch (quick default: 64; --full: 128)')
    parser.add_argument('--train-size', type=int,
                        help=f'training images of the students (quick default: 20000; --full: '
                             f'{TRAIN_PART})')
    parser.add_argument('--teacher-train-size', type=int,
                        help=f'training images of the teacher (quick default: 50000; --full: '
                             f'{TRAIN_PART})')
    parser.add_argument('--test-size', type=int, help='test images (default: all 10000)')
    parser.add_argument('--eval-split', choices=['test', 'val'], default='test',
                        help=f'evaluate on the test set (default) or on the validation split '
                             f'(the last {VAL_SIZE} training images; for choosing settings)')
    parser.add_argument('--methods', nargs='+', default=DEFAULT_METHODS, choices=list(METHODS))
    parser.add_argument('--threads', type=int,
                        help='intra-op threads per run (default: torch\'s, or 1 when other '
                             'processes already keep a core busy)')
    parser.add_argument('--amp', action='store_true',
                        help='train the students under mixed precision (tools/train.py --amp: '
                             'bfloat16 autocast on CPU, fp16 on GPU), the distilled students\' '
                             'teacher forward included; the teacher checkpoint is the fp32 one')
    parser.add_argument('--review-dtype', choices=['float32', 'bfloat16', 'auto'],
                        help='arithmetic of the ReviewKD review path '
                             '(model.distiller.connectors.review.compute_dtype; default: the '
                             'config\'s, auto = bfloat16 on a CPU with AMX-BF16 or AVX512-BF16)')
    parser.add_argument('--work-dir', default=osp.join('work_dirs', 'fmnist_main'))
    parser.add_argument('--seed', type=int, default=0, help='seed of the student runs')
    parser.add_argument('--teacher-seed', type=int, default=0,
                        help='seed of the (cached) teacher; fixed so student seeds share it')
    parser.add_argument('--train-teacher', action='store_true',
                        help='train the teacher even where the repository ships one trained '
                             'at these settings (configs/fashion_mnist/teachers/; +7 min)')
    return parser


def shipped_teacher(teacher_tag: str) -> Optional[str]:
    """The repository's trained teacher for these teacher settings, or None.

    ``configs/fashion_mnist/teachers/resnet56_fmnist_<tag>.pth`` was trained by this job
    (``--train-teacher``) at the quick default settings; the JSON beside it records the command,
    commit, SHA-256 and accuracy (training it again gave a bit-identical state dict).
    """
    path = osp.join(project_root(), 'configs', 'fashion_mnist', 'teachers',
                    f'resnet56_fmnist_{teacher_tag}.pth')
    return path if osp.isfile(path) else None


def use_shipped_teacher(shipped: str, st: Dict, work_root: str, teacher_tag: str) -> Dict:
    """Evaluate the repository's trained teacher (in ``teacher_<tag>_shipped``) and copy it
    to where the students' ``teacher_ckpt`` points; its metrics get ``'exported'`` and
    ``'shipped'``, and no training minutes."""
    run_dir = osp.join(work_root, f'teacher_{teacher_tag}_shipped')
    exported = osp.join(work_root, 'teachers', f'resnet56_{teacher_tag}.pth')
    os.makedirs(run_dir, exist_ok=True)
    os.makedirs(osp.dirname(exported), exist_ok=True)
    if not osp.isfile(exported) or not filecmp.cmp(shipped, exported, shallow=False):
        shutil.copyfile(shipped, exported)
    with open(osp.join(run_dir, 'last_checkpoint'), 'w') as f:
        f.write(exported)
    print(f'[main job] teacher (ResNet-56): the repository\'s, trained by this job at these '
          f'settings ({osp.relpath(shipped, project_root())}; --train-teacher trains it again, '
          f'about 7 min)', flush=True)
    if runs.JOB_CLOCK is not None:
        runs.JOB_CLOCK.finish('teacher', trained=False)
    opts = train_options(st['teacher_epochs'], st['teacher_train_size'], st['batch'],
                         st['teacher_seed'])
    metrics = runs.evaluate(osp.join(project_root(), 'configs', TEACHER[1]), run_dir,
                            st['eval_split'], opts + eval_options(st['eval_split'],
                                                                  st['test_size']))
    metrics.update(exported=exported, shipped=osp.relpath(shipped, project_root()),
                   train_minutes=None)
    print(f'[main job]   {TEACHER[0]}: top-1 {metrics.get("accuracy/top1", float("nan")):.2f}% '
          f'on {st["eval_split"]}', flush=True)
    return metrics


def train_teacher(st: Dict, work_root: str, teacher_tag: str, train: bool = False) -> Dict:
    """Train (or reuse) the teacher and export its weights for the students' ``teacher_ckpt``
    (again whenever the run is newer than the export); its metrics get ``'exported'``.

    Without ``train`` and without a trained run in ``work_root``, the repository's teacher for
    these settings is used where there is one (:func:`shipped_teacher`)."""
    opts = train_options(st['teacher_epochs'], st['teacher_train_size'], st['batch'],
                         st['teacher_seed'])
    run_dir = osp.join(work_root, f'teacher_{teacher_tag}')
    shipped = shipped_teacher(teacher_tag)
    if shipped and not train and not osp.isfile(osp.join(run_dir, 'train_done.json')):
        return use_shipped_teacher(shipped, st, work_root, teacher_tag)
    metrics = runs.run_model('teacher', TEACHER[0], osp.join(project_root(), 'configs',
                                                             TEACHER[1]),
                             run_dir, opts, st['eval_split'], st['test_size'],
                             st['teacher_epochs'])
    exported = osp.join(work_root, 'teachers', f'resnet56_{teacher_tag}.pth')
    if not osp.isfile(exported) or \
            osp.getmtime(exported) < osp.getmtime(runs.last_checkpoint(run_dir)):
        from mmreviewkd.apis.export import export_student
        export_student(metrics['checkpoint'], exported, student_prefix='')
    metrics['exported'] = exported
    return metrics


def student_options(key: str, st: Dict, teacher_ckpt: str) -> List[str]:
    """``--cfg-options`` of a student run: the shared training options, the teacher's weights
    (distilled students) and ReviewKD's warm-up over 1/12 of the iterations."""
    options = train_options(st['epochs'], st['train_size'], st['batch'], st['seed'])
    if key not in NO_TEACHER:
        options.append(f'model.teacher_ckpt={teacher_ckpt}')
    if st.get('amp'):  # what tools/train.py --amp selects
        from mmreviewkd.apis.runner_config import amp_optim_wrapper_type
        options.append(f'optim_wrapper.type={amp_optim_wrapper_type()}')
    if key in REVIEW and st.get('review_dtype'):
        options.append(f'model.distiller.connectors.review.compute_dtype={st["review_dtype"]}')
    if key in REVIEW:
        iters = -(-st['train_size'] // st['batch']) * st['epochs']
        options += [f'custom_hooks.0.warmup={max(1, iters // 12)}',
                    'custom_hooks.0.by_epoch=False']
    return options


def main(argv: Optional[List[str]] = None) -> Dict:
    """Run the main job from its command line; returns every run's metrics by method key."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        st = job_settings(args.full, args.epochs, args.teacher_epochs, args.batch_size,
                          args.train_size, args.teacher_train_size, args.test_size, args.seed,
                          args.teacher_seed, args.eval_split)
    except ValueError as e:
        parser.error(str(e))
    if args.amp:  # only then: the published (fp32) protocol's settings have no `amp`
        from mmreviewkd.apis.runner_config import amp_optim_wrapper_type
        st['amp'] = ('fp16 AMP' if amp_optim_wrapper_type() == 'AmpOptimWrapper'
                     else 'bfloat16 autocast')
    if args.review_dtype:  # only then: the published protocol's settings have no `review_dtype`
        st['review_dtype'] = args.review_dtype
    split = st['eval_split']
    run_tag = (f'e{st["epochs"]}_n{st["train_size"]}_b{st["batch"]}_s{st["seed"]}'
               f'{"_amp" if args.amp else ""}')
    review_suffix = f'_review-{args.review_dtype}' if args.review_dtype else ''
    tag = run_tag + review_suffix  # of the results: another review dtype, other results
    teacher_tag = (f'e{st["teacher_epochs"]}_n{st["teacher_train_size"]}_b{st["batch"]}'
                   f'_s{st["teacher_seed"]}')
    work_root = osp.abspath(args.work_dir if osp.isabs(args.work_dir)
                            else osp.join(project_root(), args.work_dir))
    t_start = time.time()
    runs.THREADS = choose_threads(args.threads)
    runs.JOB_CLOCK = JobClock({
        key: RELATIVE_COST.get(key, 2.0) * (
            st['teacher_train_size'] * st['teacher_epochs'] if key == 'teacher'
            else st['train_size'] * st['epochs'])
        for key in ['teacher'] + args.methods})

    results = {'teacher': train_teacher(st, work_root, teacher_tag, args.train_teacher)}
    for key in args.methods:
        name, cfg = METHODS[key]
        # a distilled student's folder names its teacher: another teacher, another run
        key_tag = run_tag + review_suffix if key in REVIEW else run_tag  # others: the same run
        run_dir = osp.join(work_root, f'{key}_{key_tag}' if key in NO_TEACHER
                           else f'{key}_{key_tag}_T{teacher_tag}')
        results[key] = runs.run_model(
            key, name, osp.join(project_root(), 'configs', cfg), run_dir,
            student_options(key, st, results['teacher']['exported']), split, st['test_size'],
            st['epochs'])

    rows = table_rows(results, args.methods, split)
    header = (f'Fashion-MNIST {"validation" if split == "val" else "test"} top-1 (%): students '
              f'{st["epochs"]} epoch(s) on {st["train_size"]} training images, teacher '
              f'{st["teacher_epochs"]} on {st["teacher_train_size"]}, batch {st["batch"]}, seed '
              f'{st["seed"]} (teacher seed {st["teacher_seed"]}).')
    if results['teacher'].get('shipped'):
        header += (f' The teacher is the repository\'s checkpoint trained by this job at these '
                   f'settings ({results["teacher"]["shipped"]}; `--train-teacher` trains it '
                   f'again, about 7 minutes).')
    table = format_table(rows, header, published_protocol(st) if split == 'test' else {}, split)
    for row in rows:  # by display name and by the protocol's (seed-independent) row name
        values = {k: row[k] for k in ('top1', 'se', 'diff', 'diff_se', 'beyond_noise')
                  if k in row}
        results[row['key']].setdefault('uncertainty', {})[row['name']] = values
        results[row['key']].setdefault('rows', {})[row['ref']] = values
    print('\n' + table + '\n')
    total = (time.time() - t_start) / 60
    print(f'[main job] total {total:.1f} min; results in {work_root}')
    saved_rows = [{k: v for k, v in row.items() if k != 'correct'} for row in rows]
    summary = dict(settings=st, results=results, total_minutes=round(total, 2),
                   table=dict(header=header, split=split, n=len(rows[0]['correct']),
                              rows=saved_rows))
    for name in (f'results_{split}.json', f'results_{tag}_{split}.json'):
        with open(osp.join(work_root, name), 'w') as f:
            json.dump(summary, f, indent=2)
    with open(osp.join(work_root, f'results_{split}.md'), 'w') as f:
        f.write(table + '\n')
    return results
