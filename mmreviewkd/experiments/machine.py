"""How busy the machine is, and how many intra-op threads a training run should use."""
import os
import time
from typing import Optional


def busy_cores(seconds: float = 1.0) -> Optional[float]:
    """How many cores other processes keep busy right now.

    Sampled from Linux ``/proc/stat`` over ``seconds`` while this process sleeps.

    Returns:
        The busy cores (0 .. ``os.cpu_count()``), or None where ``/proc/stat`` cannot be read.
    """
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


def choose_threads(requested: Optional[int], label: str = '[main job]') -> Optional[int]:
    """Intra-op threads for the runs: ``requested`` if given; else 1 when other processes
    already keep a core busy (with a warning), torch's default (None) otherwise.

    Measured (docs/results/busy.json, tools/analysis_tools/benchmark_busy.py): next to one
    busy process a ResNet-56 step takes 5.7x its idle time with 2 threads but 1.5x with 1
    thread, because every parallel region waits for the thread that was descheduled.
    """
    if requested:
        return requested
    busy = busy_cores()
    if busy is None or busy < 0.5:
        return None
    print(f'{label} WARNING: other processes keep {busy:.1f} of {os.cpu_count()} cores busy. '
          f'Training runs with 1 thread per process (next to one busy process that is measured '
          f'1.5x slower than idle, 2 threads 5.7x); stop them for the quoted times, or set '
          f'--threads.', flush=True)
    return 1
