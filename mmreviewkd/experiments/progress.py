"""Running a tool with its output in a log, and showing its progress while it runs.

MMEngine's logger writes a line per ``logger.interval`` iterations (``Epoch(train) [e][i/n] ...
eta: ... loss: ...``); :func:`parse_progress` reads the latest one, :class:`JobClock` turns the
work left in a multi-run job into an ETA and :func:`run_logged` shows both: a tqdm bar on a
terminal, a line every ``every`` seconds elsewhere (a pipe, a log file).
"""
import os
import os.path as osp
import re
import subprocess
import sys
import time
from typing import Callable, Dict, List, Optional

PROGRESS = re.compile(r'Epoch\((train|val)\)\s+\[(\d+)\](?:\[\s*(\d+)/(\d+)\])?')
ETA = re.compile(r'eta: (\S+)')
LOSS = re.compile(r'\s loss: ([0-9.eE+-]+|nan|inf)')
# Images per second of the student alone on 2 idle cores at batch 64: the job's ETA before the
# first model of a job has finished and given a measured rate
STUDENT_IMAGES_PER_S = 330.0


def parse_progress(log_text: str) -> Optional[Dict]:
    """The latest MMEngine progress line of a training log.

    Returns:
        ``phase`` ('train' or 'val'), ``epoch``, ``iter`` and ``total`` (iterations per epoch;
        None on an epoch-level line), ``eta`` (text) and ``loss`` (the running total loss), or
        None before the first progress line.
    """
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


class JobClock:
    """The ETA of a job of several trainings: the work left (in units such as images x epochs
    x relative cost per image) at the rate of the models trained so far.

    Args:
        plan: work units per run key.
    """

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
        """Mark ``key`` done; a run that was really trained (not reused) gives the rate."""
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


def run_logged(cmd: List[str], log: str, cwd: str, threads: Optional[int] = None,
               job_eta: Optional[Callable[[Optional[float]], str]] = None, every: float = 20.0,
               epochs: int = 1, label: str = '[main job]') -> Optional[float]:
    """Run a tool with its output in ``log`` and show its progress while it runs.

    On a terminal a tqdm bar (iteration, running loss, the job's ETA); elsewhere one line
    every ``every`` seconds, also while the tool starts up or evaluates.

    Args:
        cmd: the command line.
        log: the log file (its folder is created).
        cwd: the working directory of the command.
        threads: ``OMP_NUM_THREADS`` of the command (None: inherited).
        job_eta: called with the running model's progress (0..1), returns the job's ETA text.
        every: seconds between progress lines when not on a terminal.
        epochs: the run's epochs, for its progress fraction.
        label: the prefix of every line printed.

    Returns:
        The command's peak resident memory in MB (``VmHWM`` of /proc, read every second;
        None where /proc is not there).

    Raises:
        RuntimeError: when the command fails; the message ends with the log's last 30 lines.
    """
    os.makedirs(osp.dirname(log), exist_ok=True)
    env = dict(os.environ, OMP_NUM_THREADS=str(threads)) if threads else None
    tty = sys.stdout.isatty()
    bar = None
    with open(log, 'w') as f:
        proc = subprocess.Popen(cmd, stdout=f, stderr=subprocess.STDOUT, cwd=cwd, env=env)
        started = last_print = time.time()
        peak = None
        while proc.poll() is None:
            time.sleep(1.0)
            peak = _peak_rss_mb(proc.pid) or peak
            if not tty and time.time() - last_print < every:
                continue
            last_print = time.time()
            with open(log, errors='replace') as r:
                text = r.read()
            p = parse_progress(text)
            if p is None or p['phase'] != 'train' or not p['iter']:
                if not tty:  # starting up, validating or testing: still alive
                    what = 'evaluating' if 'test.py' in ' '.join(cmd) else 'starting'
                    print(f'{label}     ... {what} ({time.time() - started:.0f} s)', flush=True)
                continue
            done = (p['epoch'] - 1) * p['total'] + p['iter']
            eta = job_eta(done / (p['total'] * epochs)) if job_eta else None
            if tty:
                from tqdm import tqdm
                if bar is None:
                    bar = tqdm(total=p['total'] * epochs, unit='it', leave=False,
                               desc=f'{label}     ', dynamic_ncols=True)
                bar.n = done
                bar.set_postfix_str(
                    (f'loss {p["loss"]:.3f}' if p['loss'] is not None else '')
                    + (f', job eta {eta}' if eta else ''), refresh=True)
            else:
                print(f'{label}     ... {progress_line(text)}'
                      + (f'; job eta {eta}' if eta else ''), flush=True)
    if bar is not None:
        bar.close()
    if proc.returncode != 0:
        with open(log) as f:
            tail = ''.join(f.readlines()[-30:])
        raise RuntimeError(f'command failed ({proc.returncode}): {" ".join(cmd)}\n{tail}')
    return peak


def _peak_rss_mb(pid: int) -> Optional[float]:
    """A live process's peak resident memory so far in MB (``VmHWM``), or None."""
    try:
        with open(f'/proc/{pid}/status') as f:
            for line in f:
                if line.startswith('VmHWM:'):
                    return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        return None
    return None
