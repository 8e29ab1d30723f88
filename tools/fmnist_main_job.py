"""The main job on the embedded default data: distillation on Fashion-MNIST, end to end.

Trains the ResNet-56 teacher, then the ResNet-20 student alone, with classic KD, with ReviewKD
and with TSKD (multi-exit student: its deepest exit, its equal-weight vote and its vote with
weights fitted on the validation split are reported), each through ``tools/train.py``, evaluates
every final checkpoint with ``tools/test.py`` and prints the accuracies side by side.
``--methods`` adds ReviewKD + KD, BYOT and TSKD + ReviewKD (and the validation candidates).

    python tools/fmnist_main_job.py                   # quick default, about 15 min on 2 idle cores
    python tools/fmnist_main_job.py --eval-split val  # the same runs, judged on validation
    python tools/fmnist_main_job.py --full            # all 55000 training images, 15 epochs

Data (docs/main_job.md): runs train on the first images of the first 55 000 training images; the
last 5 000 are the validation split, where every setting was chosen and multi-exit vote weights
are fitted; the test set (all 10 000 images by default) only produces the reported numbers.
Every accuracy is printed with its binomial standard error, and every student with its paired
difference to the student alone on the same images (:mod:`mmreviewkd.evaluation.uncertainty`),
marked ``*`` beyond 2 standard errors and ``(within noise)`` otherwise; the published protocol's
mean +- std at the same settings is shown beside it, so a run can be judged typical or not.

Writes under ``--work-dir`` (default ``work_dirs/fmnist_main``): one folder per run (logs,
checkpoints, ``test_metrics_<split>.json``, ``predictions_<split>.pkl``, ``vote_weights.json``),
``results_<split>.json`` and ``results_<split>.md``. The teacher is cached by its settings, and
finished trainings are reused, so an interrupted job continues where it stopped.
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
    # KD at the quick schedule: 0.5 CE + 0.5 KL at T = 4, the best of three mixes on validation
    # (docs/main_job.md); the classic 0.1 / 0.9 recipe is kd_recipe
    'kd': ('KD (Hinton)', 'fashion_mnist/kd_a05_resnet56_resnet20_fmnist.py'),
    'reviewkd': ('ReviewKD', 'fashion_mnist/reviewkd_resnet56_resnet20_fmnist.py'),
    'reviewkd_kd': ('ReviewKD + KD', 'fashion_mnist/reviewkd_kd_resnet56_resnet20_fmnist.py'),
    'byot': ('BYOT (self-distillation, no teacher)', 'tskd/byot_resnet20_fmnist.py'),
    'tskd': ('TSKD', 'tskd/tskd_resnet56_resnet20_fmnist.py'),
    'tskd_reviewkd': ('TSKD + ReviewKD', 'tskd/tskd_reviewkd_resnet56_resnet20_fmnist.py'),
    'tskd_byot_weights': ('TSKD (BYOT weights)',
                          'tskd/tskd_byot_weights_resnet56_resnet20_fmnist.py'),
    'kd_recipe': ('KD (CE/KD 0.1/0.9)', 'fashion_mnist/kd_resnet56_resnet20_fmnist.py'),
    'kd_t2': ('KD (CE/KD 0.5/0.5, T=2)', 'fashion_mnist/kd_a05_t2_resnet56_resnet20_fmnist.py'),
    'tskd_a05': ('TSKD (CE/KD 0.5/0.5)', 'tskd/tskd_a05_resnet56_resnet20_fmnist.py'),
}
DEFAULT_METHODS = ['student', 'kd', 'reviewkd', 'tskd']
NO_TEACHER = ('student', 'byot')  # trained without the teacher checkpoint


PROGRESS = re.compile(r'Epoch\((train|val)\)\s+\[(\d+)\](?:\[\s*(\d+)/(\d+)\])?')
ETA = re.compile(r'eta: (\S+)')
LOSS = re.compile(r'\s loss: ([0-9.eE+-]+|nan|inf)')


def parse_progress(log_text: str) -> Optional[Dict]:
    """The latest MMEngine progress line of a training log as ``phase``, ``epoch``, ``iter``,
    ``total`` (iterations per epoch), ``eta`` and ``loss`` (the running total loss); None
    before the first one."""
    last = None
    for line in log_text.splitlines():
        if 'Epoch(' in line:
            last = line
    m = PROGRESS.search(last) if last else None
    if m is None:
        return None
    phase, epoch, it, total = m.groups()
    eta, loss = ETA.search(last), LOSS.search(last)
    return dict(phase=phase, epoch=int(epoch), iter=int(it) if it else None,
                total=int(total) if total else None, eta=eta.group(1) if eta else None,
                loss=float(loss.group(1)) if loss else None)


def progress_line(log_text: str) -> Optional[str]:
    """A one-line summary of the latest MMEngine progress line in a training log."""
    p = parse_progress(log_text)
    if p is None:
        return None
    where = f'epoch {p["epoch"]}' + (f', iter {p["iter"]}/{p["total"]}' if p['iter'] else '')
    return (f'{p["phase"]} {where}' + (f', loss {p["loss"]:.4f}' if p['loss'] is not None else '')
            + (f', eta {p["eta"]}' if p['eta'] else ''))


# Intra-op threads of the training / test processes (None: torch's default, one per core).
THREADS: Optional[int] = None
# What the job as a whole still has to do, for its ETA (set by main()).
JOB_ETA = None
# Training cost per image relative to the student alone, for the job's ETA only (rough ratios
# of the step times on 2 cores: docs/results/step.json, the teacher from its training log).
RELATIVE_COST = dict(teacher=2.5, student=1.0, kd=1.6, reviewkd=2.2, reviewkd_kd=2.3, byot=1.3,
                     tskd=1.7, tskd_reviewkd=2.6, tskd_byot_weights=1.7, kd_recipe=1.6, kd_t2=1.6,
                     tskd_a05=1.7)
STUDENT_IMAGES_PER_S = 330.0  # before the first model finishes (2 idle cores, batch 64)


class JobClock:
    """The whole job's ETA: remaining work (images x epochs x relative cost) at the rate of
    the models trained so far."""

    def __init__(self, plan: Dict[str, float]) -> None:
        self.todo = dict(plan)
        self.done_units = 0.0
        self.done_seconds = 0.0
        self.started: Optional[float] = None
        self.current: Optional[str] = None

    def start(self, key: str) -> None:
        self.current = key
        self.started = time.time()

    def finish(self, key: str, trained: bool) -> None:
        units = self.todo.pop(key, 0.0)
        if trained and self.started is not None:
            self.done_units += units
            self.done_seconds += time.time() - self.started
        self.started = self.current = None

    def __call__(self, fraction: Optional[float] = None) -> str:
        """The ETA as text; ``fraction`` is the running model's progress (0..1)."""
        current = self.todo.get(self.current, 0.0) if self.current else 0.0
        if self.done_units:
            rate = self.done_seconds / self.done_units
        elif fraction and fraction > 0.05 and current and self.started is not None:
            rate = (time.time() - self.started) / (fraction * current)  # from this model
        else:
            rate = 1.0 / STUDENT_IMAGES_PER_S
        left = (sum(self.todo.values()) - current * (fraction or 0.0)) * rate
        return f'{left / 60:.0f} min'


def run(cmd: List[str], log: str, every: float = 20.0, epochs: int = 1) -> None:
    """Run a tool with its output in ``log``; raise with the log's tail on failure.

    Progress of a training run is shown while it runs: on a terminal as a tqdm bar (iteration,
    running loss, the model's and the whole job's ETA), elsewhere (a pipe, a log file) as one
    line every ``every`` seconds.
    """
    os.makedirs(osp.dirname(log), exist_ok=True)
    env = dict(os.environ, OMP_NUM_THREADS=str(THREADS)) if THREADS else None
    bar = None
    with open(log, 'w') as f:
        proc = subprocess.Popen(cmd, stdout=f, stderr=subprocess.STDOUT, cwd=ROOT, env=env)
        started = last_print = time.time()
        while proc.poll() is None:
            time.sleep(1.0)
            if not sys.stdout.isatty() and time.time() - last_print < every:
                continue
            last_print = time.time()
            with open(log, errors='replace') as r:
                text = r.read()
            p = parse_progress(text)
            if p is None or p['phase'] != 'train' or not p['iter']:
                if not sys.stdout.isatty():  # starting up, validating or testing: still alive
                    what = 'evaluating' if 'test.py' in ' '.join(cmd) else 'starting'
                    print(f'[main job]     ... {what} ({time.time() - started:.0f} s)',
                          flush=True)
                continue
            fraction = ((p['epoch'] - 1) * p['total'] + p['iter']) / (p['total'] * epochs)
            job_eta = JOB_ETA(fraction) if JOB_ETA else None
            if sys.stdout.isatty():
                from tqdm import tqdm
                if bar is None:
                    bar = tqdm(total=p['total'] * epochs, unit='it', leave=False,
                               desc='[main job]     ', dynamic_ncols=True)
                bar.n = (p['epoch'] - 1) * p['total'] + p['iter']
                bar.set_postfix_str(
                    (f'loss {p["loss"]:.3f}' if p['loss'] is not None else '')
                    + (f', job eta {job_eta}' if job_eta else ''), refresh=True)
            else:
                line = progress_line(text)
                print(f'[main job]     ... {line}' + (f'; job eta {job_eta}' if job_eta else ''),
                      flush=True)
    if bar is not None:
        bar.close()
    if proc.returncode != 0:
        with open(log) as f:
            tail = ''.join(f.readlines()[-30:])
        raise RuntimeError(f'command failed ({proc.returncode}): {" ".join(cmd)}\n{tail}')


def last_checkpoint(work_dir: str) -> str:
    with open(osp.join(work_dir, 'last_checkpoint')) as f:
        return f.read().strip()


def train(name: str, config: str, work_dir: str, options: List[str], epochs: int = 1) -> float:
    """Train one model with ``tools/train.py`` (resuming a cut run); return the minutes."""
    t0 = time.time()
    print(f'[main job] training {name}: {osp.relpath(config, ROOT)} -> {work_dir}', flush=True)
    # --resume: an interrupted run continues from its last epoch checkpoint (a fresh work dir
    # simply starts; a finished one is only tested)
    run([sys.executable, 'tools/train.py', config, '--work-dir', work_dir, '--resume',
         '--cfg-options', *options], osp.join(work_dir, 'train_stdout.log'), epochs=epochs)
    return round((time.time() - t0) / 60, 2)


def evaluate(config: str, work_dir: str, split: str, options: List[str],
             name: Optional[str] = None) -> Dict:
    """Evaluate a run's last checkpoint with ``tools/test.py`` on ``split`` (``'val'``: the
    held-out training images, ``'test'``: the test set); writes ``test_metrics_<name>.json``
    and ``predictions_<name>.pkl`` (``name`` defaults to the split) and returns the metrics,
    with the predictions' path under ``'predictions'``. An earlier evaluation is reused only if
    it was made of the same checkpoint with the same options (``test_metrics_<name>.options``:
    e.g. another test size or other vote weights evaluate again)."""
    name = name or split
    ckpt = last_checkpoint(work_dir)
    metrics_file = osp.join(work_dir, f'test_metrics_{name}.json')
    predictions = osp.join(work_dir, f'predictions_{name}.pkl')
    made_with = osp.join(work_dir, f'test_metrics_{name}.options')
    what = json.dumps(dict(config=config, checkpoint=ckpt, options=options))
    done = all(osp.isfile(f) for f in (metrics_file, predictions, made_with))
    if done:
        with open(made_with) as f:
            done = f.read() == what
    if not done:
        run([sys.executable, 'tools/test.py', config, ckpt, '--work-dir', work_dir,
             '--metrics-out', metrics_file, '--out', predictions, '--cfg-options', *options],
            osp.join(work_dir, f'test_{name}_stdout.log'))
        with open(made_with, 'w') as f:
            f.write(what)
    with open(metrics_file) as f:
        metrics = json.load(f)
    metrics.update(checkpoint=ckpt, predictions=predictions)
    return metrics


def fit_run_vote(work_dir: str) -> Dict:
    """Fit a multi-exit run's vote weights on its validation predictions
    (``predictions_val.pkl``); saved as ``vote_weights.json``."""
    import torch  # noqa: F401  (the pickle holds tensors)
    from mmengine.fileio import load

    from mmreviewkd.evaluation.vote_weights import (exit_probs_from_predictions,
                                                    fit_vote_weights)
    preds = load(osp.join(work_dir, 'predictions_val.pkl'))
    labels = [int(p['gt_label'].reshape(-1)[0]) for p in preds]
    fitted = fit_vote_weights(exit_probs_from_predictions(preds), labels)
    with open(osp.join(work_dir, 'vote_weights.json'), 'w') as f:
        json.dump(fitted, f, indent=2)
    return fitted


# The published multi-seed protocol at the main job's quick settings (tools/fmnist_benchmark.py)
PROTOCOL_JSON = osp.join(CFG, 'fashion_mnist', 'protocol_main_job.json')
# The last VAL_SIZE training images are the validation split (choices are made there); runs
# train on images from the first TRAIN_PART only, so the two never overlap.
VAL_SIZE = 5000
TRAIN_PART = 60000 - VAL_SIZE
# A multi-exit method -> where its vote settings live in the config
MULTI_EXIT = {'byot': 'model', 'tskd': 'model.architecture',
              'tskd_reviewkd': 'model.architecture', 'tskd_byot_weights': 'model.architecture',
              'tskd_a05': 'model.architecture'}
# Methods with ReviewKD's HCL term: its weight is warmed up over 1/12 of the iterations (the
# official schedule: 20 of 240 epochs), not the configs' 1 epoch
REVIEW = ('reviewkd', 'reviewkd_kd', 'tskd_reviewkd')


def correct_vectors(predictions: str) -> Dict[str, np.ndarray]:
    """Per-image correctness of a run's predictions (a ``--out`` pickle of tools/test.py):
    ``'pred'`` (the model's prediction: the vote for a multi-exit student) and,
    for a multi-exit student, ``'deepest'`` (its deepest exit alone) and ``'soft'`` (the
    equal-weight vote of its exits)."""
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
    difference to the student alone, from each run's predictions."""
    from mmreviewkd.evaluation.uncertainty import binomial_se, paired_difference
    vectors = {key: correct_vectors(results[key]['predictions'])
               for key in ['teacher'] + methods}
    rows = [dict(key='teacher', name=TEACHER[0], ref='teacher', correct=vectors['teacher']['pred'],
                 minutes=results['teacher'].get('train_minutes', 0))]
    for key in methods:
        name = METHODS[key][0]
        minutes = results[key].get('train_minutes', 0)
        if 'deepest' in vectors[key]:
            weights = results[key].get('vote_weights', {}).get('weights')
            k = len(weights) if weights else 3
            rows.append(dict(key=key, name=f'{name}: deepest exit', ref=f'{name}: deepest exit',
                             correct=vectors[key]['deepest'], minutes=minutes))
            rows.append(dict(key=key, name=f'{name}: vote of {k} exits, equal weights',
                             ref=f'{name}: soft vote', correct=vectors[key]['soft'],
                             minutes=None))
            if weights:
                w = '/'.join(f'{x:.1f}' for x in weights)
                fit = 'fitted on val' + (' (in-sample here)' if split == 'val' else '')
                rows.append(dict(key=key, name=f'{name}: vote, weights {w} {fit}',
                                 ref=f'{name}: vote', correct=vectors[key]['pred'],
                                 minutes=None))
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


def published_protocol(settings: Dict) -> Dict[str, Dict]:
    """Mean +- std per row of the committed protocol, if it was run with these ``settings``
    (seed aside); {} otherwise."""
    if not osp.isfile(PROTOCOL_JSON):
        return {}
    with open(PROTOCOL_JSON) as f:
        protocol = json.load(f)
    ours = {k: v for k, v in settings.items() if k not in ('seed', 'eval_split')}
    theirs = {k: v for k, v in protocol.get('settings', {}).items() if k in ours}
    return protocol['summary'] if theirs == ours else {}


def format_table(rows: List[Dict], header: str, reference: Dict[str, Dict],
                 split: str = 'test', n: Optional[int] = None) -> str:
    """The main job's markdown table (see the module docstring for the columns); ``n`` (the
    number of evaluated images) defaults to the length of the rows' ``correct`` vectors."""
    from mmreviewkd.evaluation.uncertainty import noise_mark
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


def settings_from_args(args: argparse.Namespace) -> Dict:
    """The training settings of a main-job run (quick default or ``--full``).

    Raises:
        ValueError: when a training size reaches into the validation split.
    """
    full = args.full
    settings = dict(
        epochs=args.epochs or (15 if full else 1),
        teacher_epochs=args.teacher_epochs or (15 if full else 1),
        batch=args.batch_size or (128 if full else 64),
        train_size=args.train_size or (TRAIN_PART if full else 20000),
        teacher_train_size=args.teacher_train_size or (TRAIN_PART if full else 50000),
        test_size=args.test_size, seed=args.seed, teacher_seed=args.teacher_seed,
        eval_split=args.eval_split)
    for key in ('epochs', 'teacher_epochs', 'batch', 'test_size'):
        value = getattr(args, {'batch': 'batch_size'}.get(key, key))
        if value is not None and value < 1:
            raise ValueError(f'--{key.replace("_", "-")}={value}: must be at least 1')
    for key in ('train_size', 'teacher_train_size'):
        if not 0 < settings[key] <= TRAIN_PART:
            raise ValueError(f'--{key.replace("_", "-")}={settings[key]}: use 1..{TRAIN_PART}; '
                             f'the last {VAL_SIZE} training images are the validation split')
    return settings


def train_options(epochs: int, size: int, batch: int, seed: int) -> List[str]:
    """``--cfg-options`` of one training run: the first ``size`` training images, validation
    on the held-out split at the end, linear warm-up then cosine decay, both per iteration
    (warm-up: 1 epoch for runs of >= 5 epochs, else a tenth of an epoch and at least one
    iteration)."""
    iters = -(-size // batch)
    warmup = 1 if epochs >= 5 else round(min(1.0, max(0.1, 1.5 / iters)), 4)
    return [
        f'train_dataloader.dataset.indices={size}', f'train_dataloader.batch_size={batch}',
        'val_dataloader.dataset.split=train', 'val_dataloader.dataset.test_mode=False',
        f'val_dataloader.dataset.indices=-{VAL_SIZE}',
        f'train_cfg.max_epochs={epochs}', f'train_cfg.val_interval={epochs}',
        f'param_scheduler.0.end={warmup}', f'param_scheduler.1.begin={warmup}',
        f'param_scheduler.1.end={epochs}', 'param_scheduler.1.convert_to_iter_based=True',
        f'randomness.seed={seed}', 'default_hooks.logger.interval=20']


def eval_options(split: str, test_size: Optional[int]) -> List[str]:
    """``--cfg-options`` of tools/test.py for the held-out validation split or the test set."""
    if split == 'val':
        # test_mode=False: MMPretrain's MNIST datasets read the *test* files whenever
        # test_mode=True, whatever `split` says (mmpretrain 1.2.0, mnist.py); the test pipeline
        # has no randomness, so nothing else changes
        return ['test_dataloader.dataset.split=train', 'test_dataloader.dataset.test_mode=False',
                f'test_dataloader.dataset.indices=-{VAL_SIZE}']
    return [f'test_dataloader.dataset.indices={test_size}']


def run_model(key: str, name: str, config: str, work_dir: str, options: List[str],
              split: str, test_size: Optional[int], epochs: int = 1) -> Dict:
    """Train (unless done), fit a multi-exit vote on validation, evaluate on ``split``."""
    done = osp.join(work_dir, 'train_done.json')
    if JOB_ETA is not None:
        JOB_ETA.start(key)
    trained = not osp.isfile(done)
    if not trained:
        with open(done) as f:
            record = json.load(f)
        minutes = record['train_minutes']
        made = {k: record[k] for k in ('config', 'options') if k in record}
        if made and made != dict(config=osp.relpath(config, ROOT), options=options):
            raise RuntimeError(
                f'{work_dir} was trained with other settings ({made}); the folder name does not '
                f'capture every option. Remove the folder or use another --work-dir.')
        print(f'[main job] reusing the trained {name} in {work_dir}', flush=True)
    else:
        minutes = train(name, config, work_dir, options, epochs)
        with open(done, 'w') as f:
            json.dump(dict(train_minutes=minutes, config=osp.relpath(config, ROOT),
                           options=options), f, indent=2)
    if JOB_ETA is not None:
        JOB_ETA.finish(key, trained=trained)
    extra: List[str] = []
    fitted = None
    if key in MULTI_EXIT:
        evaluate(config, work_dir, 'val', options + eval_options('val', None))
        fitted = fit_run_vote(work_dir)
        where = MULTI_EXIT[key]
        weights = ','.join(str(w) for w in fitted['weights'])
        extra = [f'{where}.vote=weighted', f'{where}.vote_weights=[{weights}]']
        print(f'[main job]   {name}: vote weights {fitted["weights"]} fitted on validation '
              f'({fitted["accuracy"]:.2f}% there; exits {fitted["exit_accuracy"]}, equal '
              f'weights {fitted["soft_accuracy"]:.2f}%)', flush=True)
    eval_opts = options + eval_options(split, test_size)
    if fitted is None:
        metrics = evaluate(config, work_dir, split, eval_opts)
    else:  # the vote with the weights fitted on validation
        metrics = evaluate(config, work_dir, split, eval_opts + extra, f'{split}_fitted_vote')
    metrics['train_minutes'] = minutes
    if fitted is not None:
        metrics['vote_weights'] = fitted
    print(f'[main job]   {name}: top-1 {metrics.get("accuracy/top1", float("nan")):.2f}% on '
          f'{split} ({minutes} min training)', flush=True)
    return metrics


def main(argv: Optional[List[str]] = None) -> Dict:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
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
    parser.add_argument('--work-dir', default=osp.join('work_dirs', 'fmnist_main'))
    parser.add_argument('--seed', type=int, default=0, help='seed of the student runs')
    parser.add_argument('--teacher-seed', type=int, default=0,
                        help='seed of the (cached) teacher; fixed so student seeds share it')
    args = parser.parse_args(argv)
    try:
        st = settings_from_args(args)
    except ValueError as e:
        parser.error(str(e))
    split = st['eval_split']
    tag = f'e{st["epochs"]}_n{st["train_size"]}_b{st["batch"]}_s{st["seed"]}'
    teacher_tag = (f'e{st["teacher_epochs"]}_n{st["teacher_train_size"]}_b{st["batch"]}'
                   f'_s{st["teacher_seed"]}')
    work_root = osp.abspath(osp.join(ROOT, args.work_dir) if not osp.isabs(args.work_dir)
                            else args.work_dir)
    student_opts = train_options(st['epochs'], st['train_size'], st['batch'], st['seed'])
    teacher_opts = train_options(st['teacher_epochs'], st['teacher_train_size'], st['batch'],
                                 st['teacher_seed'])
    results: Dict[str, Dict] = {}
    t_start = time.time()
    global THREADS, JOB_ETA
    THREADS = choose_threads(args.threads)
    JOB_ETA = JobClock({
        key: RELATIVE_COST.get(key, 2.0) * (
            st['teacher_train_size'] * st['teacher_epochs'] if key == 'teacher'
            else st['train_size'] * st['epochs'])
        for key in ['teacher'] + args.methods})

    # 1. the teacher, cached by its settings
    teacher_ckpt = osp.join(work_root, 'teachers', f'resnet56_{teacher_tag}.pth')
    run_dirs = {'teacher': osp.join(work_root, f'teacher_{teacher_tag}')}
    results['teacher'] = run_model('teacher', TEACHER[0], osp.join(CFG, TEACHER[1]),
                                   run_dirs['teacher'], teacher_opts, split, st['test_size'],
                                   st['teacher_epochs'])
    # (re-)export whenever the teacher run is newer than the exported weights
    if not osp.isfile(teacher_ckpt) or \
            osp.getmtime(teacher_ckpt) < osp.getmtime(last_checkpoint(run_dirs['teacher'])):
        from mmreviewkd.apis.export import export_student
        export_student(results['teacher']['checkpoint'], teacher_ckpt, student_prefix='')
    # 2. the students
    for key in args.methods:
        name, cfg = METHODS[key]
        options = list(student_opts)
        if key not in NO_TEACHER:
            options.append(f'model.teacher_ckpt={teacher_ckpt}')
        if key in REVIEW:
            iters = -(-st['train_size'] // st['batch']) * st['epochs']
            options += [f'custom_hooks.0.warmup={max(1, iters // 12)}',
                        'custom_hooks.0.by_epoch=False']
        # a distilled student's folder names its teacher: another teacher, another run
        run_dirs[key] = osp.join(work_root, f'{key}_{tag}' if key in NO_TEACHER
                                 else f'{key}_{tag}_T{teacher_tag}')
        results[key] = run_model(key, name, osp.join(CFG, cfg), run_dirs[key], options, split,
                                 st['test_size'], st['epochs'])

    # 3. the table: accuracies with their standard errors, paired differences to the student
    rows = table_rows(results, args.methods, split)
    reference = published_protocol(st) if split == 'test' else {}
    header = (f'Fashion-MNIST {"validation" if split == "val" else "test"} top-1 (%): students '
              f'{st["epochs"]} epoch(s) on {st["train_size"]} training images, teacher '
              f'{st["teacher_epochs"]} on {st["teacher_train_size"]}, batch {st["batch"]}, seed '
              f'{st["seed"]} (teacher seed {st["teacher_seed"]}).')
    table = format_table(rows, header, reference, split)
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


if __name__ == '__main__':
    main()
