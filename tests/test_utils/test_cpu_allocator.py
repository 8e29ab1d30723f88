"""keep_freed_memory: sets glibc's thresholds, and stays off where the user chose otherwise."""
import os
import subprocess
import sys

import pytest

from mmreviewkd.utils.cpu_allocator import keep_freed_memory


@pytest.mark.parametrize('env', [
    {'MMREVIEWKD_KEEP_FREED_MEMORY': '0'}, {'MMREVIEWKD_KEEP_FREED_MEMORY': 'off'},
    {'MALLOC_TRIM_THRESHOLD_': '0'}, {'MALLOC_MMAP_THRESHOLD_': '65536'},
    {'GLIBC_TUNABLES': 'glibc.malloc.trim_threshold=0'},
    {'LD_PRELOAD': '/usr/lib/x86_64-linux-gnu/libjemalloc.so.2'}])
def test_the_users_own_allocator_settings_win(env):
    assert keep_freed_memory(env) is False


def _glibc() -> bool:
    try:
        return os.confstr('CS_GNU_LIBC_VERSION').startswith('glibc')
    except (ValueError, OSError, AttributeError):
        return False


def test_sets_both_thresholds_where_the_process_runs_on_glibc():
    # in a child process: the thresholds are process-wide
    code = 'from mmreviewkd.utils import keep_freed_memory; print(keep_freed_memory({}))'
    out = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True, check=True)
    assert out.stdout.split()[-1] == str(_glibc())
