from mmreviewkd.utils.cpu_bf16 import native_bf16_flags

SAPPHIRE_RAPIDS = ('processor\t: 0\nmodel name\t: Intel(R) Xeon(R) Processor\n'
                   'flags\t\t: fpu sse2 avx512f avx512_bf16 amx_bf16 amx_tile\n'
                   'bugs\t\t: spectre_v1\n')
ICE_LAKE = 'processor\t: 0\nflags\t\t: fpu sse2 avx2 avx512f avx512bw avx512_vnni\n'


def test_native_bf16_is_read_from_the_flags_line_only():
    assert native_bf16_flags(SAPPHIRE_RAPIDS)
    assert native_bf16_flags(SAPPHIRE_RAPIDS.replace(' amx_bf16', ''))  # AVX512-BF16 alone
    assert not native_bf16_flags(ICE_LAKE)  # AVX-512 without bf16: emulated, slower than fp32
    assert not native_bf16_flags('bugs\t\t: amx_bf16\nflags\t\t: fpu sse2\n')
    assert not native_bf16_flags('flags\t\t: fpu avx512_bf16x\n')  # whole flags only
    assert not native_bf16_flags('')

