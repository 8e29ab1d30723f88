"""``ABF(fused_ops=True)``: the folded conv1 BatchNorm and the fused attention equal the official
modules (values, gradients, running statistics) up to float rounding."""
import copy

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from mmreviewkd.models.connectors import ABF
from mmreviewkd.models.connectors.abf_ops import (AttentionFusion, FoldedAttentionFusion,
                                                  attention_fusion, can_fold, channel_dot,
                                                  fold_conv_bn,
                                                  folded_attention_fusion,
                                                  residual_attention_grad, residual_grad)

CL = torch.channels_last


def _official_fusion(x, r, z):
    up = F.interpolate(r, size=x.shape[-2:], mode='nearest') if r.shape[-2:] != (1, 1) else r
    return x * z[:, 0:1] + up * z[:, 1:2]


@pytest.mark.parametrize('x_hw,r_hw', [((4, 4), (2, 2)), ((4, 6), (2, 2)), ((3, 3), (3, 3)),
                                       ((4, 4), (1, 1))],
                         ids=['x2', 'x2 by x3', 'same size', 'broadcast 1x1'])
def test_attention_fusion_gradcheck_float64(x_hw, r_hw):
    torch.manual_seed(0)
    x = torch.randn(2, 3, *x_hw, dtype=torch.float64, requires_grad=True)
    r = torch.randn(2, 3, *r_hw, dtype=torch.float64, requires_grad=True)
    z = torch.rand(2, 2, *x_hw, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(AttentionFusion.apply, (x, r, z))
    torch.testing.assert_close(AttentionFusion.apply(x, r, z), _official_fusion(x, r, z))


@pytest.mark.parametrize('layout', ['contiguous', 'channels_last'])
def test_attention_fusion_equals_official_in_fp32_and_keeps_the_layout(layout):
    torch.manual_seed(0)
    fmt = CL if layout == 'channels_last' else torch.contiguous_format
    x = torch.randn(4, 8, 8, 8).contiguous(memory_format=fmt).requires_grad_()
    r = torch.randn(4, 8, 4, 4).contiguous(memory_format=fmt).requires_grad_()
    z = torch.rand(4, 2, 8, 8).contiguous(memory_format=fmt).requires_grad_()
    g = torch.randn(4, 8, 8, 8)
    ours = attention_fusion(x, r, z)
    assert ours.is_contiguous(memory_format=fmt)
    official = _official_fusion(x, r, z)
    torch.testing.assert_close(ours, official, rtol=1e-6, atol=1e-6)
    for a, b in zip(torch.autograd.grad(ours, (x, r, z), g),
                    torch.autograd.grad(official, (x, r, z), g)):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-5)


def test_attention_fusion_falls_back_where_the_factor_is_not_an_integer():
    x, r, z = torch.randn(1, 2, 5, 5), torch.randn(1, 2, 3, 3), torch.rand(1, 2, 5, 5)
    torch.testing.assert_close(attention_fusion(x, r, z), _official_fusion(x, r, z))


def _conv_bn(cin, cout, dtype=torch.float32, momentum=0.1):
    torch.manual_seed(0)
    conv = nn.Conv2d(cin, cout, 1, bias=False).to(dtype)
    bn = nn.BatchNorm2d(cout, momentum=momentum).to(dtype)
    with torch.no_grad():
        bn.weight.uniform_(0.5, 1.5)
        bn.bias.normal_()
        bn.running_mean.normal_()
    return conv, bn


@pytest.mark.parametrize('momentum', [0.1, None], ids=['momentum', 'cumulative'])
def test_fold_conv_bn_equals_conv_then_batchnorm_float64(momentum):
    conv, bn = _conv_bn(5, 12, torch.float64, momentum)
    ref_conv, ref_bn = copy.deepcopy(conv), copy.deepcopy(bn)
    x = (torch.randn(3, 5, 6, 6, dtype=torch.float64) * 2 + 1).requires_grad_()
    x_ref = x.detach().clone().requires_grad_()
    g = torch.randn(3, 12, 6, 6, dtype=torch.float64)
    for step in range(2):  # twice: the running statistics and the batch counter move alike
        assert can_fold(conv, bn, x)
        weight, bias = fold_conv_bn(conv, bn, x)
        ours = F.conv2d(x, weight, bias)
        official = ref_bn(ref_conv(x_ref))
        torch.testing.assert_close(ours, official, rtol=1e-10, atol=1e-10)
        got = torch.autograd.grad(ours, (x, conv.weight, bn.weight, bn.bias), g)
        want = torch.autograd.grad(official, (x_ref, ref_conv.weight, ref_bn.weight,
                                              ref_bn.bias), g)
        for a, b in zip(got, want):
            torch.testing.assert_close(a, b, rtol=1e-9, atol=1e-10)
        for name, buf in bn.named_buffers():
            torch.testing.assert_close(buf, dict(ref_bn.named_buffers())[name], rtol=1e-10,
                                       atol=1e-10, msg=name)


def test_fold_applies_only_where_the_math_is_the_same():
    conv, bn = _conv_bn(4, 8)
    x = torch.randn(2, 4, 3, 3)
    assert can_fold(conv, bn, x)
    assert not can_fold(conv, bn, torch.randn(1, 4, 1, 1))  # one value per channel
    same_width = nn.Conv2d(8, 8, 1, bias=False)  # nothing to gain: the modules run
    assert not can_fold(same_width, bn, torch.randn(2, 8, 3, 3))
    assert not can_fold(nn.Conv2d(4, 8, 3, bias=False), bn, x)
    assert not can_fold(nn.Conv2d(4, 8, 1), bn, x)  # conv bias
    assert not can_fold(conv, nn.SyncBatchNorm(8), x)  # statistics across processes
    assert not can_fold(conv, nn.BatchNorm2d(8, track_running_stats=False), x)
    bn.eval()
    assert not can_fold(conv, bn, x)


def _abf_pair(in_ch, mid, out, fuse, dtype=torch.float32):
    torch.manual_seed(0)
    fused = ABF(in_ch, mid, out, fuse=fuse).to(dtype)
    with torch.no_grad():
        for p in fused.parameters():
            p.add_(0.1 * torch.randn_like(p))
    official = ABF(in_ch, mid, out, fuse=fuse, split_attention=False, fused_ops=False).to(dtype)
    official.load_state_dict(fused.state_dict())
    assert fused.fused_ops and not official.fused_ops
    return fused, official


def _run(abf, x, residual, out_size, grads):
    x = x.clone().requires_grad_()
    residual = residual.clone().requires_grad_() if residual is not None else None
    y, fused = abf(x, residual, out_size)
    loss = (y * grads[0]).sum() + (fused * grads[1]).sum()
    inputs = [x] + ([residual] if residual is not None else [])
    got = torch.autograd.grad(loss, inputs + list(abf.parameters()))
    return [y, fused] + list(got) + [b.clone() for b in abf.buffers()]


@pytest.mark.parametrize('case', [
    dict(x=(6, 8, 8), r=(16, 4, 4), out=None),  # upsampled residual
    dict(x=(6, 4, 4), r=(16, 1, 1), out=None),  # the pooled residual, broadcast
    dict(x=(6, 4, 6), r=(16, 2, 2), out=(8, 12)),  # x2 by x3, resized to the teacher's size
    dict(x=(6, 5, 5), r=(16, 3, 3), out=None),  # no integer factor: plain ops
    dict(x=(16, 1, 1), r=None, out=None),  # the deepest ABF, no fusion
], ids=['x2', 'broadcast', 'x2 by x3 + resize', 'fallback', 'deepest'])
@pytest.mark.parametrize('layout', ['contiguous', 'channels_last'])
def test_fused_abf_equals_the_official_abf_float64(case, layout):
    fused, official = _abf_pair(case['x'][0], 16, 7, fuse=case['r'] is not None,
                                dtype=torch.float64)
    fmt = CL if layout == 'channels_last' else torch.contiguous_format
    torch.manual_seed(1)
    x = torch.randn(3, *case['x'], dtype=torch.float64).contiguous(memory_format=fmt)
    r = (torch.randn(3, *case['r'], dtype=torch.float64).contiguous(memory_format=fmt)
         if case['r'] else None)
    if layout == 'channels_last' and case['r'] and case['x'][1] % case['r'][1] == 0 and \
            case['out'] is None:
        # channels_last with integer factors: conv1 runs inside the fusion
        fused_map = copy.deepcopy(fused)(x, r, case['out'])[1]
        assert 'FoldedAttentionFusion' in fused_map.grad_fn.name()
    out_hw = case['out'] or case['x'][1:]
    grads = (torch.randn(3, 7, *out_hw, dtype=torch.float64),
             torch.randn(3, 16, *out_hw, dtype=torch.float64))
    for _ in range(2):  # a second step sees the updated running statistics
        for a, b in zip(_run(fused, x, r, case['out'], grads),
                        _run(official, x, r, case['out'], grads)):
            torch.testing.assert_close(a, b, rtol=1e-9, atol=1e-9)


def test_fused_abf_fp32_channels_last_within_float_rounding_and_eval_unchanged():
    fused, official = _abf_pair(16, 64, 16, fuse=True)
    fused, official = fused.to(memory_format=CL), official.to(memory_format=CL)
    torch.manual_seed(1)
    x = torch.randn(8, 16, 16, 16).contiguous(memory_format=CL)
    r = torch.randn(8, 64, 8, 8).contiguous(memory_format=CL)
    grads = (torch.randn(8, 16, 16, 16), torch.randn(8, 64, 16, 16))
    got, want = _run(fused, x, r, None, grads), _run(official, x, r, None, grads)
    for a, b in zip(got, want):
        if not a.is_floating_point():  # num_batches_tracked
            assert torch.equal(a, b)
            continue
        # relative L2 error: fp32 rounding only (measured about 1e-6)
        assert ((a - b).norm() / b.norm().clamp_min(1e-12)).item() < 1e-4
    fused.eval()
    official.eval()
    with torch.no_grad():  # evaluation: conv1's modules with running statistics, fused products
        torch.testing.assert_close(fused(x, r)[0], official(x, r)[0], rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize('layout', ['contiguous', 'channels_last'])
def test_fused_abf_under_bf16_autocast_trains_with_float_statistics(layout):
    """bf16 features and residual (as the chain passes them under autocast) train: the folded
    BatchNorm's statistics come from float arithmetic, as close to the fp32 module's as fp32."""
    fused, official = _abf_pair(16, 64, 16, fuse=True)
    fmt = CL if layout == 'channels_last' else torch.contiguous_format
    torch.manual_seed(1)
    x = torch.randn(8, 16, 16, 16).bfloat16().float()  # values representable in bf16
    r = torch.randn(8, 64, 8, 8)
    with torch.autocast('cpu', dtype=torch.bfloat16):
        y, fused_map = fused(x.bfloat16().contiguous(memory_format=fmt).requires_grad_(),
                             r.bfloat16().contiguous(memory_format=fmt).requires_grad_())
    if layout == 'channels_last':
        assert fused_map.grad_fn.name() == 'FoldedAttentionFusionBackward'
    (y.float().square().mean() + fused_map.float().mean()).backward()
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in fused.parameters())
    official(x, r)  # fp32 modules on the same values
    torch.testing.assert_close(fused.conv1[1].running_mean, official.conv1[1].running_mean,
                               rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(fused.conv1[1].running_var, official.conv1[1].running_var,
                               rtol=1e-5, atol=1e-6)


def test_attention_fusion_promotes_mixed_dtypes_like_the_official_ops():
    x = torch.randn(2, 4, 4, 4, dtype=torch.bfloat16, requires_grad=True)
    r = torch.randn(2, 4, 2, 2, requires_grad=True)  # fp32 residual
    z = torch.rand(2, 2, 4, 4, dtype=torch.bfloat16, requires_grad=True)
    out = attention_fusion(x, r, z)
    assert out.dtype == _official_fusion(x, r, z).dtype == torch.float32
    out.sum().backward()
    assert x.grad.dtype == torch.bfloat16 and r.grad.dtype == torch.float32


@pytest.mark.parametrize('needs', [(True, False, False), (False, True, False),
                                   (False, False, True), (True, False, True)])
def test_attention_fusion_computes_only_the_gradients_asked_for(needs):
    torch.manual_seed(0)
    tensors = [torch.randn(2, 3, 4, 4, dtype=torch.float64), torch.randn(2, 3, 2, 2,
                                                                          dtype=torch.float64),
               torch.rand(2, 2, 4, 4, dtype=torch.float64)]
    ours = [t.clone().requires_grad_(n) for t, n in zip(tensors, needs)]
    official = [t.clone().requires_grad_(n) for t, n in zip(tensors, needs)]
    g = torch.randn(2, 3, 4, 4, dtype=torch.float64)
    attention_fusion(*ours).backward(g)
    _official_fusion(*official).backward(g)
    for a, b, n in zip(ours, official, needs):
        assert (a.grad is not None) == n
        if n:
            torch.testing.assert_close(a.grad, b.grad)


@pytest.mark.parametrize('x_hw,r_hw', [((4, 4), (2, 2)), ((4, 6), (2, 2)), ((3, 3), (3, 3)),
                                       ((4, 4), (1, 1))],
                         ids=['x2', 'x2 by x3', 'same size', 'broadcast 1x1'])
def test_folded_attention_fusion_gradcheck_float64_and_equals_conv_then_fusion(x_hw, r_hw):
    torch.manual_seed(0)
    f64 = dict(dtype=torch.float64)
    x = torch.randn(2, 3, *x_hw, **f64).contiguous(memory_format=CL).requires_grad_()
    weight = torch.randn(5, 3, **f64, requires_grad=True)
    bias = torch.randn(5, **f64, requires_grad=True)
    r = torch.randn(2, 5, *r_hw, **f64).contiguous(memory_format=CL).requires_grad_()
    z = torch.rand(2, 2, *x_hw, **f64).contiguous(memory_format=CL).requires_grad_()
    assert torch.autograd.gradcheck(FoldedAttentionFusion.apply, (x, weight, bias, r, z))
    ours = folded_attention_fusion(x, weight[:, :, None, None], bias, r, z)
    assert ours.is_contiguous(memory_format=CL)
    torch.testing.assert_close(
        ours, _official_fusion(F.conv2d(x, weight[:, :, None, None], bias), r, z))


def test_folded_attention_fusion_declines_what_it_does_not_cover():
    x, w, b = torch.randn(2, 3, 4, 4), torch.randn(5, 3, 1, 1), torch.randn(5)
    r, z = torch.randn(2, 5, 2, 2), torch.rand(2, 2, 4, 4)
    assert folded_attention_fusion(x, w, b, r, z) is None  # NCHW x: the caller runs the ops
    x_cl = x.contiguous(memory_format=CL)
    assert folded_attention_fusion(x_cl, w.double(), b, r, z) is None  # mixed dtypes
    assert folded_attention_fusion(x_cl, w, b, torch.randn(2, 5, 3, 3), z) is None  # 4 / 3
    assert folded_attention_fusion(x_cl, w, b, r, z) is not None


@pytest.mark.parametrize('layout', ['contiguous', 'channels_last'])
@pytest.mark.parametrize('x_hw,r_hw', [((8, 8), (4, 4)), ((8, 6), (4, 2)), ((4, 4), (1, 1)),
                                       ((36, 36), (18, 18))],
                         ids=['x2', 'x2 by x3', 'broadcast', 'wide residual'])
def test_residual_gradients_equal_the_upsampled_formulas(layout, x_hw, r_hw):
    """Both branches of each helper (strided / pooled, diagonal blocks / upsampled copy)."""
    torch.manual_seed(0)
    fmt = CL if layout == 'channels_last' else torch.contiguous_format
    grad = torch.randn(2, 6, *x_hw, dtype=torch.float64).contiguous(memory_format=fmt)
    r = torch.randn(2, 6, *r_hw, dtype=torch.float64).contiguous(memory_format=fmt)
    z1 = torch.rand(2, 1, *x_hw, dtype=torch.float64)
    factors = (x_hw[0] // r_hw[0], x_hw[1] // r_hw[1])
    up = F.interpolate(r, size=x_hw, mode='nearest')
    torch.testing.assert_close(residual_attention_grad(grad, r, factors),
                               (grad * up).sum(1))
    torch.testing.assert_close(residual_grad(grad, z1, factors),
                               F.avg_pool2d(grad * z1, factors) * factors[0] * factors[1])


@pytest.mark.parametrize('dtype', [torch.float64, torch.float32, torch.bfloat16])
@pytest.mark.parametrize('shape', [(300, 17), (2, 6, 5, 4)], ids=['pixel rows', 'maps'])
def test_channel_dot_equals_the_product_summed_over_channels(dtype, shape):
    """Both branches (einsum in float32/64, vecdot in bf16), on a strided operand as the
    fused backward passes it (a column slice)."""
    torch.manual_seed(0)
    a = torch.randn(*shape[:1], shape[1] + 1, *shape[2:], dtype=dtype)[:, :shape[1]]
    b = torch.randn(*shape, dtype=dtype)
    expected = (a.double() * b.double()).sum(1)
    out = channel_dot(a, b)
    assert out.dtype == dtype and out.shape == expected.shape
    if dtype == torch.bfloat16:  # within the rounding of a bf16 sum: 2^-8 of sum |a b|, twice
        bound = 2 ** -7 * (a.double() * b.double()).abs().sum(1)
        assert ((out.double() - expected).abs() <= bound).all()
    else:
        torch.testing.assert_close(out, expected.to(dtype))


@pytest.mark.parametrize('layout', ['contiguous', 'channels_last'])
def test_folded_batchnorm_statistics_gradcheck_float64(layout):
    """The hand-written backward through the batch mean and covariance."""
    from mmreviewkd.models.connectors.abf_ops import FoldedBatchNorm
    torch.manual_seed(0)
    fmt = CL if layout == 'channels_last' else torch.contiguous_format
    x = (torch.randn(2, 3, 4, 5, dtype=torch.float64) * 2 + 1).contiguous(memory_format=fmt)
    weight = torch.randn(6, 3, dtype=torch.float64)
    gamma = torch.rand(6, dtype=torch.float64) + 0.5
    beta = torch.randn(6, dtype=torch.float64)
    inputs = tuple(t.requires_grad_() for t in (x, weight, gamma, beta))
    assert torch.autograd.gradcheck(lambda *a: FoldedBatchNorm.apply(*a, 1e-5)[:2], inputs)
