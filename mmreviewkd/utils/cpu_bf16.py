"""Whether this CPU does bfloat16 arithmetic in hardware.

On x86 CPUs with AVX512-BF16 (Intel Cooper Lake, AMD Zen 4 and later) or AMX-BF16 (Intel
Sapphire Rapids and later) oneDNN runs bfloat16 convolutions and matrix products natively: AMX
at several times the float32 rate, both with half its memory traffic. Elsewhere PyTorch emulates
bfloat16, which is slower than float32: an ``'auto'`` choice of bfloat16
(``ReviewKDConnector(compute_dtype='auto')``) is made only where this returns True. Read from
``/proc/cpuinfo`` (Linux, x86): other systems and ARM CPUs with bf16 instructions get False,
the conservative answer. A ``DNNL_MAX_CPU_ISA`` below AVX512-BF16 is not consulted: the flags
still answer True there.
"""
import functools

NATIVE_BF16_FLAGS = ('amx_bf16', 'avx512_bf16')


def native_bf16_flags(cpuinfo: str) -> bool:
    """Whether a ``/proc/cpuinfo`` text lists AMX-BF16 or AVX512-BF16 among its ``flags``."""
    for line in cpuinfo.splitlines():
        key, _, value = line.partition(':')
        if key.strip() == 'flags' and any(f in value.split() for f in NATIVE_BF16_FLAGS):
            return True
    return False


@functools.lru_cache(maxsize=None)
def cpu_has_native_bf16() -> bool:
    """Whether this machine's CPU has AMX-BF16 or AVX512-BF16 (read once from
    ``/proc/cpuinfo``; False where it cannot be read, e.g. on macOS or Windows)."""
    try:
        with open('/proc/cpuinfo') as f:
            return native_bf16_flags(f.read())
    except OSError:
        return False
