"""Keep freed memory in the process (glibc ``mallopt``): fresh large tensors then reuse warm pages.

PyTorch's CPU allocator hands every tensor to ``malloc``. glibc serves blocks from 128 KiB up
(its threshold adapts, up to 32 MiB) with fresh ``mmap`` pages, and returns freed memory at the
top of the heap to the system beyond 128 KiB: a training step that allocates the same
multi-megabyte maps every iteration then page-faults and zero-fills them again every time. On
the review path that is a large share of the cost (a 64-channel 32x32 map of batch 64 is 16 MiB;
measured in docs/benchmarks.md). Raising both thresholds keeps those pages in the heap: the
same allocations, the same arithmetic, bit-identical results; resident memory stays at its peak
instead of shrinking between steps.
"""
import ctypes
import ctypes.util
import os
from typing import Optional

M_TRIM_THRESHOLD = -1  # glibc <malloc.h>
M_MMAP_THRESHOLD = -3
MMAP_THRESHOLD_MAX = 32 * 1024**2  # glibc's maximum on 64-bit systems
TRIM_THRESHOLD = 2**31 - 1  # mallopt takes an int


def keep_freed_memory(environ: Optional[dict] = None) -> bool:
    """Raise glibc's mmap and trim thresholds for this process (and processes it forks).

    Off when the environment sets ``MMREVIEWKD_KEEP_FREED_MEMORY`` to ``0``/``false``/``off``,
    chooses glibc's malloc settings itself (``MALLOC_MMAP_THRESHOLD_``,
    ``MALLOC_TRIM_THRESHOLD_``, ``glibc.malloc`` in ``GLIBC_TUNABLES``: the user's choice wins)
    or preloads another allocator (jemalloc, tcmalloc, mimalloc in ``LD_PRELOAD``). Processes
    forked afterwards (DataLoader workers) inherit the thresholds.

    Returns:
        bool: Whether both thresholds were set (False without glibc, e.g. on macOS or musl).
    """
    env = os.environ if environ is None else environ
    preload = env.get('LD_PRELOAD', '')
    if env.get('MMREVIEWKD_KEEP_FREED_MEMORY', '1').lower() in ('0', 'false', 'off', 'no') or \
            'MALLOC_MMAP_THRESHOLD_' in env or 'MALLOC_TRIM_THRESHOLD_' in env or \
            'glibc.malloc' in env.get('GLIBC_TUNABLES', '') or \
            any(name in preload for name in ('jemalloc', 'tcmalloc', 'mimalloc')):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library('c') or 'libc.so.6')
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    return (mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD_MAX) == 1 and
            mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD) == 1)
