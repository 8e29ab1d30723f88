"""The main job on the embedded default data: distillation on Fashion-MNIST, end to end.

Trains the ResNet-56 teacher, then the ResNet-20 student alone, with classic KD, with ReviewKD
and with TSKD (multi-exit student; its deepest exit and its 3-exit vote are both reported), each
through ``tools/train.py``, evaluates every final checkpoint with ``tools/test.py`` and prints
the test accuracies side by side. ``--methods`` adds ReviewKD + KD and TSKD + ReviewKD.

    python tools/fmnist_main_job.py            # quick default: about 20 minutes on 2 idle CPU cores
    python tools/fmnist_main_job.py --full     # all 60000 training images, 15 epochs each

Every model is evaluated on all 10 000 test images. Every accuracy is printed with its binomial
standard error, and every student with its paired difference to the student alone on the same
images (:mod:`mmreviewkd.evaluation.uncertainty`), marked ``*`` when it is beyond noise (more
than 2 standard errors) and ``(within noise)`` otherwise; the published 3-seed protocol's
mean +- std of each method is shown beside it, so a run can be judged typical or not.

Writes under ``--work-dir`` (default ``work_dirs/fmnist_main``): one folder per run (logs,
checkpoints, ``test_metrics.json``), ``results.json`` and ``results.md``. The teacher is cached:
a later run with the same settings reuses ``teachers/resnet56_<tag>.pth``.
"""
import argparse
import json
import os
import os.path as osp
import re
import subprocess
import sys
import time
from typing import Dict, List, Optional

import numpy as np

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
CFG = osp.join(ROOT, 'configs')

TEACHER = ('teacher (ResNet-56)', 'fashion_mnist/resnet56_fmnist.py')
METHODS = {
    'student': ('student alone (ResNet-20)', 'fashion_mnist/resnet20_fmnist.py'),
    'kd': ('KD (Hinton)', 'fashion_mnist/kd_resnet56_resnet20_fmnist.py'),
    'reviewkd': ('ReviewKD', 'fashion_mnist/reviewkd_resnet56_resnet20_fmnist.py'),
    'reviewkd_kd': ('ReviewKD + KD', 'fashion_mnist/reviewkd_kd_resnet56_resnet20_fmnist.py'),
    'byot': ('BYOT (self-distillation, no teacher)', 'tskd/byot_resnet20_fmnist.py'),
    'tskd': ('TSKD', 'tskd/tskd_resnet56_resnet20_fmnist.py'),
    'tskd_reviewkd': ('TSKD + ReviewKD', 'tskd/tskd_reviewkd_resnet56_resnet20_fmnist.py'),
}
DEFAULT_METHODS = ['student', 'kd', 'reviewkd', 'tskd']
NO_TEACHER = ('student', 'byot')  # trained without the teacher checkpoint


PROGRESS = re.compile(r'Epoch\((train|val)\)\s+\[(\d+)\](?:\[\s*(\d+)/(\d+)\])?')
ETA = re.compile(r'eta: (\S+)')


def progress_line(log_text: str) -> Optional[str]:
    """A one-line summary of the latest MMEngine progress line in a training log."""
    last = None
    for line in log_text.splitlines():
        if 'Epoch(' in line:
            last = line
    if last is None:
        return None
    m = PROGRESS.search(last)
    if m is None:
        return None
    phase, epoch, it, total = m.groups()
    eta = ETA.search(last)
    eta = eta.group(1) if eta else None
    where = f'epoch {epoch}' + (f', iter {it}/{total}' if it else '')
    return f'{phase} {where}' + (f', eta {eta}' if eta else '')


# Intra-op threads of the training / test processes (None: torch's default, one per core).
THREADS: Optional[int] = None


def run(cmd: List[str], log: str, every: float = 20.0) -> None:
    """Run a tool with its output in ``log``, printing its progress every ``every`` seconds;
    raise with the log's tail on failure."""
    os.makedirs(osp.dirname(log), exist_ok=True)
    env = dict(os.environ, OMP_NUM_THREADS=str(THREADS)) if THREADS else None
    with open(log, 'w') as f:
        proc = subprocess.Popen(cmd, stdout=f, stderr=subprocess.STDOUT, cwd=ROOT, env=env)
        last_print = time.time()
        while proc.poll() is None:
            time.sleep(1.0)
            if time.time() - last_print >= every:
                last_print = time.time()
                with open(log, errors='replace') as r:
                    line = progress_line(r.read())
                if line:
                    print(f'[main job]     ... {line}', flush=True)
    if proc.returncode != 0:
        with open(log) as f:
            tail = ''.join(f.readlines()[-30:])
        raise RuntimeError(f'command failed ({proc.returncode}): {" ".join(cmd)}\n{tail}')


def last_checkpoint(work_dir: str) -> str:
    with open(osp.join(work_dir, 'last_checkpoint')) as f:
        return f.read().strip()


def train_and_test(name: str, config: str, work_dir: str, options: List[str]) -> Dict:
    py = sys.executable
    t0 = time.time()
    print(f'[main job] training {name}: {osp.relpath(config, ROOT)} -> {work_dir}', flush=True)
    # --resume: an interrupted run continues from its last epoch checkpoint (a fresh work dir
    # simply starts; a finished one is only tested)
    run([py, 'tools/train.py', config, '--work-dir', work_dir, '--resume', '--cfg-options',
         *options], osp.join(work_dir, 'train_stdout.log'))
    ckpt = last_checkpoint(work_dir)
    metrics_file = osp.join(work_dir, 'test_metrics.json')
    run([py, 'tools/test.py', config, ckpt, '--work-dir', work_dir, '--metrics-out',
         metrics_file, '--out', osp.join(work_dir, 'predictions.pkl'), '--cfg-options',
         *options], osp.join(work_dir, 'test_stdout.log'))
    with open(metrics_file) as f:
        metrics = json.load(f)
    metrics['train_minutes'] = round((time.time() - t0) / 60, 2)
    metrics['checkpoint'] = ckpt
    print(f'[main job]   {name}: top-1 {metrics.get("accuracy/top1", float("nan")):.2f}% '
          f'({metrics["train_minutes"]} min)', flush=True)
    return metrics


PROTOCOL_JSON = osp.join(CFG, 'fashion_mnist', 'protocol_3seeds.json')


def correct_vectors(work_dir: str) -> Dict[str, np.ndarray]:
    """Per-image correctness of a run's test predictions (``predictions.pkl`` of tools/test.py):
    ``'pred'`` (the model's prediction: the vote for a multi-exit student) and, for a multi-exit
    student, ``'deepest'`` (its deepest exit alone)."""
    import torch  # noqa: F401  (the pickle holds tensors)
    from mmengine.fileio import load
    preds = load(osp.join(work_dir, 'predictions.pkl'))
    gt = np.array([int(p['gt_label'].reshape(-1)[0]) for p in preds])
    out = {'pred': np.array([int(p['pred_label'].reshape(-1)[0]) for p in preds]) == gt}
    if 'exit_scores' in preds[0]:
        out['deepest'] = np.array([int(p['exit_scores'][-1].argmax()) for p in preds]) == gt
    return out


def table_rows(results: Dict, methods: List[str], work_root: str, tag: str,
               teacher_dir: str) -> List[Dict]:
    """One row per reported model: top-1, its standard error and (students) the paired
    difference to the student alone."""
    from mmreviewkd.evaluation.uncertainty import binomial_se, paired_difference
    vectors = {'teacher': correct_vectors(teacher_dir)}
    for key in methods:
        vectors[key] = correct_vectors(osp.join(work_root, f'{key}_{tag}'))
    rows = [dict(key='teacher', name=TEACHER[0], ref='teacher', correct=vectors['teacher']['pred'],
                 minutes=results['teacher'].get('train_minutes', 0))]
    for key in methods:
        name = METHODS[key][0]
        minutes = results[key].get('train_minutes', 0)
        if 'deepest' in vectors[key]:
            rows.append(dict(key=key, name=f'{name}: deepest exit', ref=f'{name}: deepest exit',
                             correct=vectors[key]['deepest'], minutes=minutes))
            exits = len([k for k in results[key] if k.startswith('multi-exit/exit') and
                         k.endswith('/top1')])
            rows.append(dict(key=key, name=f'{name}: vote of {exits} exits',
                             ref=f'{name}: vote', correct=vectors[key]['pred'], minutes=None))
        else:
            rows.append(dict(key=key, name=name, ref=name, correct=vectors[key]['pred'],
                             minutes=minutes))
    base = vectors['student']['pred'] if 'student' in vectors else None
    for row in rows:
        row['top1'] = 100.0 * float(row['correct'].mean())
        row['se'] = binomial_se(row['correct'])
        if base is not None and row['key'] not in ('teacher', 'student'):
            diff = paired_difference(row['correct'], base)
            row.update(diff=diff['diff'], diff_se=diff['se'], beyond_noise=diff['beyond_noise'])
    return rows


def published_protocol() -> Dict[str, Dict]:
    """Mean +- std per row of the committed 3-seed protocol (same training settings)."""
    if not osp.isfile(PROTOCOL_JSON):
        return {}
    with open(PROTOCOL_JSON) as f:
        return json.load(f)['summary']


def format_table(rows: List[Dict], header: str, reference: Dict[str, Dict]) -> str:
    """The main job's markdown table (see the module docstring for the columns)."""
    from mmreviewkd.evaluation.uncertainty import noise_mark
    n = len(rows[0]['correct'])
    lines = [header, '',
             f'| method | top-1 (%) ± s.e. ({n} images) | vs student alone (paired) | '
             'published protocol, 3 seeds | minutes |', '|---|---:|---:|---:|---:|']
    for row in rows:
        diff = noise_mark(row['diff'], row['diff_se']) if 'diff' in row else ''
        ref = reference.get(row['ref'])
        ref_text = f'{ref["mean"]:.2f} ± {ref["std"]:.2f}' if ref else '—'
        minutes = '' if row['minutes'] is None else f'{row["minutes"]:.1f}'
        lines.append(f'| {row["name"]} | {row["top1"]:.2f} ± {row["se"]:.2f} | {diff} | '
                     f'{ref_text} | {minutes} |')
    lines += ['', '`*`: the difference exceeds 2 standard errors of the paired difference on '
              'these test images; `(within noise)`: it does not. Seed-to-seed variation of '
              'training comes on top (the protocol column: mean ± std over seeds'
              + (', on 2 000 test images).' if reference else ').')]
    return '\n'.join(lines)


def busy_cores(seconds: float = 1.0) -> Optional[float]:
    """How many cores other processes keep busy right now (Linux ``/proc/stat``, sampled over
    ``seconds`` while this process sleeps); None where it cannot be read."""
    def sample():
        with open('/proc/stat') as f:
            values = [int(v) for v in f.readline().split()[1:]]
        idle = values[3] + (values[4] if len(values) > 4 else 0)  # idle + iowait
        return sum(values), idle
    try:
        total0, idle0 = sample()
        time.sleep(seconds)
        total1, idle1 = sample()
    except (OSError, ValueError, IndexError):
        return None
    if total1 == total0:
        return None
    return (1 - (idle1 - idle0) / (total1 - total0)) * (os.cpu_count() or 1)


def choose_threads(requested: Optional[int]) -> Optional[int]:
    """Intra-op threads for the runs: ``requested`` if given; else 1 when other processes
    already keep a core busy, torch's default otherwise.

    Measured here (docs/results/busy.json, tools/analysis_tools/benchmark_busy.py): next to one
    busy process a ResNet-56 step takes 5.7x its idle time with 2 threads but 1.5x with 1
    thread, because every parallel region waits for the thread that was descheduled.
    """
    if requested:
        return requested
    busy = busy_cores()
    if busy is None or busy < 0.5:
        return None
    print(f'[main job] WARNING: other processes keep {busy:.1f} of {os.cpu_count()} cores busy. '
          f'Training runs with 1 thread per process (next to one busy process that is measured '
          f'1.5x slower than idle, 2 threads 5.7x); stop them for the quoted times, or set '
          f'--threads.', flush=True)
    return 1


def main(argv: Optional[List[str]] = None) -> Dict:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--full', action='store_true',
                        help='all 60000 training images and the configs\' 15 epochs')
    parser.add_argument('--epochs', type=int, help='epochs per student (quick default: 3)')
    parser.add_argument('--teacher-epochs', type=int,
                        help='teacher epochs (quick default: 6; --full: as --epochs)')
    parser.add_argument('--batch-size', type=int,
                        help='training batch (quick default: 32; --full: the configs\' 128)')
    parser.add_argument('--train-size', type=int,
                        help='training images (quick default: 6000; --full: all 60000)')
    parser.add_argument('--test-size', type=int,
                        help='test images (default: all 10000)')
    parser.add_argument('--methods', nargs='+', default=DEFAULT_METHODS, choices=list(METHODS))
    parser.add_argument('--threads', type=int,
                        help='intra-op threads per run (default: torch\'s, or 1 when other '
                             'processes already keep a core busy)')
    parser.add_argument('--work-dir', default=osp.join('work_dirs', 'fmnist_main'))
    parser.add_argument('--seed', type=int, default=0, help='seed of the student runs')
    parser.add_argument('--teacher-seed', type=int, default=0,
                        help='seed of the (cached) teacher; fixed so student seeds share it')
    args = parser.parse_args(argv)

    epochs = args.epochs or (15 if args.full else 3)
    teacher_epochs = args.teacher_epochs or (epochs if args.full else 2 * epochs)
    batch = args.batch_size or (None if args.full else 32)
    train_size = args.train_size or (None if args.full else 6000)
    test_size = args.test_size  # default: all 10000 test images (inference is cheap)
    tag = (f'e{epochs}_n{train_size or "all"}_t{test_size or "all"}_b{batch or "cfg"}'
           f'_s{args.seed}')
    teacher_tag = tag.replace(f'e{epochs}_', f'e{teacher_epochs}_', 1).replace(
        f'_s{args.seed}', f'_s{args.teacher_seed}')
    work_root = osp.abspath(osp.join(ROOT, args.work_dir) if not osp.isabs(args.work_dir)
                            else args.work_dir)
    common = [
        f'train_dataloader.dataset.indices={train_size}',
        f'val_dataloader.dataset.indices={test_size}',
        f'test_dataloader.dataset.indices={test_size}',
        'default_hooks.logger.interval=20',
    ] + ([f'train_dataloader.batch_size={batch}'] if batch else [])
    # the cosine phase starts after the 1-epoch warm-up: it needs end > 1
    student_opts = common + [f'randomness.seed={args.seed}', f'train_cfg.max_epochs={epochs}',
                             f'param_scheduler.1.end={max(epochs, 2)}']
    teacher_opts = common + [f'randomness.seed={args.teacher_seed}',
                             f'train_cfg.max_epochs={teacher_epochs}',
                             f'param_scheduler.1.end={max(teacher_epochs, 2)}']
    results: Dict[str, Dict] = {}
    t_start = time.time()
    global THREADS
    THREADS = choose_threads(args.threads)

    # 1. the teacher, cached by settings
    teacher_ckpt = osp.join(work_root, 'teachers', f'resnet56_{teacher_tag}.pth')
    teacher_dir = osp.join(work_root, f'teacher_{teacher_tag}')
    teacher_metrics_file = osp.join(teacher_dir, 'test_metrics.json')
    if osp.isfile(teacher_ckpt) and osp.isfile(teacher_metrics_file) and \
            osp.isfile(osp.join(teacher_dir, 'predictions.pkl')):
        print(f'[main job] reusing the cached teacher {teacher_ckpt}')
        with open(teacher_metrics_file) as f:
            results['teacher'] = json.load(f)
    else:
        results['teacher'] = train_and_test(TEACHER[0], osp.join(CFG, TEACHER[1]), teacher_dir,
                                            teacher_opts)
        sys.path.insert(0, ROOT)
        from mmreviewkd.apis.export import export_student
        export_student(results['teacher']['checkpoint'], teacher_ckpt, student_prefix='')
    # 2. the students
    for key in args.methods:
        name, cfg = METHODS[key]
        options = list(student_opts)
        if key not in NO_TEACHER:
            options.append(f'model.teacher_ckpt={teacher_ckpt}')
        work_dir = osp.join(work_root, f'{key}_{tag}')
        done = osp.join(work_dir, 'test_metrics.json')
        if osp.isfile(done) and osp.isfile(osp.join(work_dir, 'predictions.pkl')):
            # finished earlier (same settings): reuse, nothing is redone
            print(f'[main job] reusing the finished run {work_dir}')
            with open(done) as f:
                results[key] = json.load(f)
            continue
        results[key] = train_and_test(name, osp.join(CFG, cfg), work_dir, options)

    # 3. the table: accuracies with their standard errors, paired differences to the student
    rows = table_rows(results, args.methods, work_root, tag, teacher_dir)
    quick = (epochs, teacher_epochs, batch, train_size) == (3, 6, 32, 6000)
    reference = published_protocol() if quick else {}
    header = (f'Fashion-MNIST test top-1 (%): students {epochs} epochs, teacher {teacher_epochs}, '
              f'batch {batch or 128}, {train_size or 60000} training / {test_size or 10000} '
              f'test images, seed {args.seed} (teacher seed {args.teacher_seed}).')
    table = format_table(rows, header, reference)
    for row in rows:
        key = row['key']
        results[key].setdefault('uncertainty', {})[row['name']] = {
            k: row[k] for k in ('top1', 'se', 'diff', 'diff_se', 'beyond_noise') if k in row}
    print('\n' + table + '\n')
    print(f'[main job] total {(time.time() - t_start) / 60:.1f} min; results in {work_root}')
    summary = dict(settings=dict(epochs=epochs, teacher_epochs=teacher_epochs, batch=batch,
                                 train_size=train_size, test_size=test_size, seed=args.seed,
                                 teacher_seed=args.teacher_seed), results=results)
    for name in ('results.json', f'results_{tag}.json'):
        with open(osp.join(work_root, name), 'w') as f:
            json.dump(summary, f, indent=2)
    with open(osp.join(work_root, 'results.md'), 'w') as f:
        f.write(table + '\n')
    return results


if __name__ == '__main__':
    main()
