import pytest
import torch

from mmreviewkd.models.losses import HCLLoss, hcl_loss


def test_hcl_h4_hand_computed():
    # fs = 0..15 on a 4x4 map, ft = 0. Level 4 is skipped (4 >= H), 2 and 1 are used:
    # mse = mean(k^2) = 77.5; pool2 = (2.5, 4.5, 10.5, 12.5) -> 73.25; pool1 = 7.5 -> 56.25
    # (77.5 + 0.5 * 73.25 + 0.25 * 56.25) / 1.75 = 73.25
    fs = torch.arange(16.).view(1, 1, 4, 4)
    assert hcl_loss([fs], [torch.zeros_like(fs)]).item() == pytest.approx(73.25)


def test_hcl_h2_only_level_1():
    # H = 2: only l = 1 is used. mse = (1 + 9 + 25 + 49) / 4 = 21, pool1 = 4 -> 16.
    fs = torch.tensor([[[[1., 3.], [5., 7.]]]])
    expected = (21 + 0.5 * 16) / 1.5
    assert hcl_loss([fs], [torch.zeros_like(fs)]).item() == pytest.approx(expected)


def test_hcl_h1_is_plain_mse_and_stages_sum():
    fs1 = torch.tensor([[[[3.]], [[1.]]]])  # (1, 2, 1, 1)
    ft1 = torch.zeros_like(fs1)
    fs4 = torch.arange(16.).view(1, 1, 4, 4)
    # H = 1 level: (9 + 1) / 2 = 5, no pyramid term; stage losses are summed.
    assert hcl_loss([fs1], [ft1]).item() == pytest.approx(5.0)
    assert hcl_loss([fs4, fs1], [torch.zeros_like(fs4), ft1]).item() == pytest.approx(78.25)


def test_hcl_h8_uses_all_levels_total_weight_1875():
    torch.manual_seed(0)
    fs, ft = torch.randn(2, 3, 8, 8), torch.randn(2, 3, 8, 8)
    m = ((fs - ft)**2).mean()
    p = [((fs.view(2, 3, s, 8 // s, s, 8 // s).mean((3, 5)) -
           ft.view(2, 3, s, 8 // s, s, 8 // s).mean((3, 5)))**2).mean() for s in (4, 2, 1)]
    expected = (m + 0.5 * p[0] + 0.25 * p[1] + 0.125 * p[2]) / 1.875
    assert hcl_loss([fs], [ft]).item() == pytest.approx(expected.item(), rel=1e-5)


def test_hcl_module_weight_levels_and_errors():
    fs = torch.arange(16.).view(1, 1, 4, 4)
    ft = torch.zeros_like(fs)
    assert HCLLoss(loss_weight=2.0)([fs], [ft]).item() == pytest.approx(146.5)
    # levels=() -> plain MSE
    assert HCLLoss(levels=())([fs], [ft]).item() == pytest.approx(77.5)
    with pytest.raises(ValueError, match='loss_weight'):
        HCLLoss(loss_weight=-1)
    with pytest.raises(ValueError, match='shape'):
        hcl_loss([fs], [torch.zeros(1, 2, 4, 4)])
    with pytest.raises(ValueError):
        hcl_loss([fs, fs], [ft])


@pytest.mark.parametrize('shape', [(2, 3, 32, 32), (2, 3, 8, 8), (2, 3, 7, 7), (2, 3, 12, 20),
                                   (2, 3, 25, 38), (2, 3, 6, 6)],
                         ids=['32 nests', '8 nests', '7 fallback', '12x20 partly',
                              '25x38 fallback', '6: 2 nests, 4 not'])
def test_pyramid_pools_equal_adaptive_pools_from_the_full_map(shape):
    from mmreviewkd.models.losses.hcl import pyramid_pools
    torch.manual_seed(0)
    x = torch.randn(*shape, dtype=torch.float64, requires_grad=True)
    levels = [s for s in (4, 2, 1) if s < shape[2]]
    grad = torch.randn(sum(x.shape[0] * x.shape[1] * s * s for s in levels), dtype=x.dtype)
    ours = pyramid_pools(x, levels)
    official = [torch.nn.functional.adaptive_avg_pool2d(x, s) for s in levels]
    for a, b in zip(ours, official):
        torch.testing.assert_close(a, b, rtol=1e-12, atol=1e-12)
    # the gradients too: nested pools back-propagate to the same input gradient
    g_ours = torch.autograd.grad(torch.cat([p.flatten() for p in ours]) @ grad, x)[0]
    g_off = torch.autograd.grad(torch.cat([p.flatten() for p in official]) @ grad, x)[0]
    torch.testing.assert_close(g_ours, g_off, rtol=1e-12, atol=1e-12)


def test_hcl_matches_the_official_per_level_pools_within_float_rounding():
    """fp32, channels_last as in training: the nested pools change only the rounding."""
    torch.manual_seed(0)
    cl = torch.channels_last
    s = [torch.randn(8, c, h, h).contiguous(memory_format=cl) for c, h in ((16, 32), (32, 16),
                                                                           (64, 8), (64, 1))]
    t = [torch.randn_like(f) for f in s]

    def official(fs_list, ft_list):
        total = 0.
        for fs, ft in zip(fs_list, ft_list):
            loss, w, ws = torch.nn.functional.mse_loss(fs, ft), 1.0, 1.0
            for size in (4, 2, 1):
                if size >= fs.shape[2]:
                    continue
                w /= 2.0
                loss = loss + w * torch.nn.functional.mse_loss(
                    torch.nn.functional.adaptive_avg_pool2d(fs, size),
                    torch.nn.functional.adaptive_avg_pool2d(ft, size))
                ws += w
            total = total + loss / ws
        return total
    torch.testing.assert_close(hcl_loss(s, t), official(s, t), rtol=1e-6, atol=0)
    assert torch.equal(hcl_loss(s, t, nested_pools=False), official(s, t))


@pytest.mark.parametrize('shape', [(2, 3, 32, 32), (2, 3, 8, 8), (2, 3, 4, 4), (2, 3, 2, 2),
                                   (2, 3, 1, 1), (2, 3, 12, 20), (2, 3, 6, 6), (2, 3, 7, 7)],
                         ids=['32', '8', '4', '2', '1: plain mse', '12x20', '6: fallback',
                              '7: fallback'])
@pytest.mark.parametrize('layout', ['contiguous', 'channels_last'])
def test_fused_hcl_equals_the_official_loss_and_gradients_float64(shape, layout):
    """``fused_ops`` (PyramidMSE from the difference map) against the official per-term MSEs,
    gradients of student and teacher features included."""
    torch.manual_seed(0)
    fmt = torch.channels_last if layout == 'channels_last' else torch.contiguous_format
    fs = torch.randn(*shape, dtype=torch.float64).contiguous(memory_format=fmt)
    ft = torch.randn(*shape, dtype=torch.float64).contiguous(memory_format=fmt)
    ours = [fs.clone().requires_grad_(), ft.clone().requires_grad_()]
    official = [fs.clone().requires_grad_(), ft.clone().requires_grad_()]
    loss = hcl_loss([ours[0]], [ours[1]], fused_ops=True)
    ref = hcl_loss([official[0]], [official[1]], nested_pools=False, fused_ops=False)
    torch.testing.assert_close(loss, ref, rtol=1e-12, atol=1e-12)
    for a, b in zip(torch.autograd.grad(loss, ours), torch.autograd.grad(ref, official)):
        torch.testing.assert_close(a, b, rtol=1e-10, atol=1e-12)
        assert a.is_contiguous(memory_format=fmt) or shape[2] == 1


def test_pyramid_mse_gradcheck_float64():
    from mmreviewkd.models.losses.hcl import PyramidMSE, nested_blocks
    torch.manual_seed(0)
    fs = torch.randn(2, 3, 8, 4, dtype=torch.float64, requires_grad=True)
    ft = torch.randn(2, 3, 8, 4, dtype=torch.float64, requires_grad=True)
    blocks = tuple(nested_blocks(fs.shape, (4, 2, 1)))
    assert blocks == ((2, 1), (2, 2), (2, 2))
    assert torch.autograd.gradcheck(lambda a, b: PyramidMSE.apply(a, b, blocks), (fs, ft))
    assert nested_blocks((2, 3, 6, 6), (4, 2, 1)) is None  # 6 is not a multiple of 4


def test_fused_hcl_fp32_within_float_rounding_of_float64():
    torch.manual_seed(0)
    fs = torch.randn(16, 16, 32, 32).contiguous(memory_format=torch.channels_last)
    ft = torch.randn_like(fs)
    exact = hcl_loss([fs.double()], [ft.double()], nested_pools=False, fused_ops=False)
    for kwargs in (dict(fused_ops=True), dict(nested_pools=False, fused_ops=False)):
        assert abs(hcl_loss([fs], [ft], **kwargs).double() / exact - 1) < 2e-6, kwargs
