"""The main job on the embedded default data: distillation on Fashion-MNIST, end to end.

Trains the ResNet-56 teacher, then the ResNet-20 student alone, with classic KD, with ReviewKD
and with TSKD (multi-exit student; its deepest exit and its 3-exit vote are both reported), each
through ``tools/train.py``, evaluates every final checkpoint with ``tools/test.py`` and prints
the test accuracies side by side. ``--methods`` adds ReviewKD + KD and TSKD + ReviewKD.

    python tools/fmnist_main_job.py            # quick default: about 15 minutes on 2 CPU cores
    python tools/fmnist_main_job.py --full     # all 60000 training images, 15 epochs each

Writes under ``--work-dir`` (default ``work_dirs/fmnist_main``): one folder per run (logs,
checkpoints, ``test_metrics.json``), ``results.json`` and ``results.md``. The teacher is cached:
a later run with the same settings reuses ``teachers/resnet56_<tag>.pth``.
"""
import argparse
import json
import os
import os.path as osp
import subprocess
import sys
import time
from typing import Dict, List, Optional

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
CFG = osp.join(ROOT, 'configs')

TEACHER = ('teacher (ResNet-56)', 'fashion_mnist/resnet56_fmnist.py')
METHODS = {
    'student': ('student alone (ResNet-20)', 'fashion_mnist/resnet20_fmnist.py'),
    'kd': ('KD (Hinton)', 'fashion_mnist/kd_resnet56_resnet20_fmnist.py'),
    'reviewkd': ('ReviewKD', 'fashion_mnist/reviewkd_resnet56_resnet20_fmnist.py'),
    'reviewkd_kd': ('ReviewKD + KD', 'fashion_mnist/reviewkd_kd_resnet56_resnet20_fmnist.py'),
    'tskd': ('TSKD', 'tskd/tskd_resnet56_resnet20_fmnist.py'),
    'tskd_reviewkd': ('TSKD + ReviewKD', 'tskd/tskd_reviewkd_resnet56_resnet20_fmnist.py'),
}
DEFAULT_METHODS = ['student', 'kd', 'reviewkd', 'tskd']


def run(cmd: List[str], log: str) -> None:
    """Run a tool, streaming its output to ``log``; raise with the log's tail on failure."""
    os.makedirs(osp.dirname(log), exist_ok=True)
    with open(log, 'w') as f:
        proc = subprocess.run(cmd, stdout=f, stderr=subprocess.STDOUT, cwd=ROOT)
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
    run([py, 'tools/train.py', config, '--work-dir', work_dir, '--cfg-options', *options],
        osp.join(work_dir, 'train_stdout.log'))
    ckpt = last_checkpoint(work_dir)
    metrics_file = osp.join(work_dir, 'test_metrics.json')
    run([py, 'tools/test.py', config, ckpt, '--work-dir', work_dir, '--metrics-out',
         metrics_file, '--cfg-options', *options], osp.join(work_dir, 'test_stdout.log'))
    with open(metrics_file) as f:
        metrics = json.load(f)
    metrics['train_minutes'] = round((time.time() - t0) / 60, 2)
    metrics['checkpoint'] = ckpt
    print(f'[main job]   {name}: top-1 {metrics.get("accuracy/top1", float("nan")):.2f}% '
          f'({metrics["train_minutes"]} min)', flush=True)
    return metrics


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
                        help='test images (quick default: 2000; --full: all 10000)')
    parser.add_argument('--methods', nargs='+', default=DEFAULT_METHODS, choices=list(METHODS))
    parser.add_argument('--work-dir', default=osp.join('work_dirs', 'fmnist_main'))
    parser.add_argument('--seed', type=int, default=0, help='seed of the student runs')
    parser.add_argument('--teacher-seed', type=int, default=0,
                        help='seed of the (cached) teacher; fixed so student seeds share it')
    args = parser.parse_args(argv)

    epochs = args.epochs or (15 if args.full else 3)
    teacher_epochs = args.teacher_epochs or (epochs if args.full else 2 * epochs)
    batch = args.batch_size or (None if args.full else 32)
    train_size = args.train_size or (None if args.full else 6000)
    test_size = args.test_size or (None if args.full else 2000)
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

    # 1. the teacher, cached by settings
    teacher_ckpt = osp.join(work_root, 'teachers', f'resnet56_{teacher_tag}.pth')
    teacher_dir = osp.join(work_root, f'teacher_{teacher_tag}')
    teacher_metrics_file = osp.join(teacher_dir, 'test_metrics.json')
    if osp.isfile(teacher_ckpt) and osp.isfile(teacher_metrics_file):
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
        if key != 'student':
            options.append(f'model.teacher_ckpt={teacher_ckpt}')
        work_dir = osp.join(work_root, f'{key}_{tag}')
        done = osp.join(work_dir, 'test_metrics.json')
        if osp.isfile(done):  # finished earlier (same settings): reuse, nothing is redone
            print(f'[main job] reusing the finished run {work_dir}')
            with open(done) as f:
                results[key] = json.load(f)
            continue
        results[key] = train_and_test(name, osp.join(CFG, cfg), work_dir, options)

    # 3. the table
    rows = [('teacher', TEACHER[0])] + [(k, METHODS[k][0]) for k in args.methods]
    lines = [
        f'Fashion-MNIST test top-1 (%): students {epochs} epochs, teacher {teacher_epochs}, '
        f'batch {batch or 128}, {train_size or 60000} training / {test_size or 10000} test '
        f'images, seed {args.seed} (teacher seed {args.teacher_seed})',
        '',
        '| method | top-1 (%) | train+test minutes |',
        '|---|---:|---:|',
    ]
    for key, name in rows:
        m = results[key]
        minutes = m.get('train_minutes', 0)
        if 'multi-exit/ensemble/top1' in m:
            exits = sorted(k for k in m if k.startswith('multi-exit/exit') and
                           k.endswith('/top1'))
            lines.append(f'| {name}: deepest exit | {m[exits[-1]]:.2f} | {minutes:.1f} |')
            lines.append(f'| {name}: vote of {len(exits)} exits | '
                         f'{m["multi-exit/ensemble/top1"]:.2f} | |')
        else:
            lines.append(f'| {name} | {m["accuracy/top1"]:.2f} | {minutes:.1f} |')
    table = '\n'.join(lines)
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
