"""keep_freed_memory: set on glibc, skipped when the user chose (environment) or turned it off."""
import subprocess
import sys

from mmreviewkd.utils.cpu_allocator import keep_freed_memory


def test_the_users_environment_wins():
    assert keep_freed_memory({'MMREVIEWKD_KEEP_FREED_MEMORY': '0'}) is False
    assert keep_freed_memory({'MALLOC_TRIM_THRESHOLD_': '0'}) is False
    assert keep_freed_memory({'MALLOC_MMAP_THRESHOLD_': '65536'}) is False


def test_sets_the_thresholds_on_glibc_and_tensors_stay_bit_identical():
    # in a child process: the thresholds are process-wide
    code = ('import torch; from mmreviewkd.utils import keep_freed_memory\n'
            'torch.manual_seed(0); a = torch.randn(64, 64, 32, 32)\n'
            'before = (a * 2 + 1).sum().item()\n'
            'ok = keep_freed_memory({})\n'
            'after = (a * 2 + 1).sum().item()\n'
            'print(ok, before == after)')
    out = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True, check=True)
    libc = 'glibc' in (subprocess.run(['ldd', '--version'], capture_output=True,
                                      text=True).stdout.lower())
    assert out.stdout.split()[-2:] == [str(libc), 'True']
