import pytest
import torch
import torch.nn.functional as F

from mmreviewkd.models.connectors import ABF, ReviewKDConnector, review_mid_channels
from mmreviewkd.models.losses import hcl_loss


# ------------------------------------------------------------------------------------------
# An independent reference of the official formulation (docs/design.md §2), written with functional
# ops on the connector's weights. Not derived from the code under test.
def _bn(x, p, prefix):
    return F.batch_norm(x, None, None, p[prefix + '.weight'], p[prefix + '.bias'], training=True,
                        eps=1e-5)


def _ref_abf(x, residual, p, fuse, out_hw):
    x = _bn(F.conv2d(x, p['conv1.0.weight']), p, 'conv1.1')
    if fuse:
        n, _, h, w = x.shape
        residual = F.interpolate(residual, (h, w), mode='nearest')
        z = torch.sigmoid(F.conv2d(torch.cat([x, residual], 1), p['att.0.weight'],
                                   p['att.0.bias']))
        x = x * z[:, 0].view(n, 1, h, w) + residual * z[:, 1].view(n, 1, h, w)
    if x.shape[-1] != out_hw:
        x = F.interpolate(x, (out_hw, out_hw), mode='nearest')
    y = _bn(F.conv2d(x, p['conv2.0.weight'], padding=1), p, 'conv2.1')
    return y, x


def _ref_review(feats, conn, teacher_hw):
    params = [{k: v for k, v in abf.state_dict().items()} for abf in conn.abfs]
    feats = feats[::-1]
    params = params[::-1]
    teacher_hw = teacher_hw[::-1]
    out, res = _ref_abf(feats[0], None, params[0], False, teacher_hw[0])
    results = [out]
    for x, p, hw in zip(feats[1:], params[1:], teacher_hw[1:]):
        out, res = _ref_abf(x, res, p, True, hw)
        results.insert(0, out)
    return results


def _ref_hcl(fstudent, fteacher):
    loss_all = 0.0
    for fs, ft in zip(fstudent, fteacher):
        h = fs.shape[2]
        loss = F.mse_loss(fs, ft, reduction='mean')
        cnt, tot = 1.0, 1.0
        for lvl in [4, 2, 1]:
            if lvl >= h:
                continue
            cnt /= 2.0
            loss += F.mse_loss(F.adaptive_avg_pool2d(fs, (lvl, lvl)),
                               F.adaptive_avg_pool2d(ft, (lvl, lvl)), reduction='mean') * cnt
            tot += cnt
        loss_all = loss_all + loss / tot
    return loss_all


# ------------------------------------------------------------------------------------------
def test_abf_layout_and_init():
    abf = ABF(32, 64, 16, fuse=True)
    assert abf.conv1[0].kernel_size == (1, 1) and abf.conv1[0].bias is None
    assert isinstance(abf.conv1[1], torch.nn.BatchNorm2d) and len(abf.conv1) == 2
    assert abf.conv2[0].kernel_size == (3, 3) and abf.conv2[0].padding == (1, 1)
    assert abf.conv2[0].bias is None and len(abf.conv2) == 2
    assert abf.att[0].in_channels == 128 and abf.att[0].out_channels == 2
    assert abf.att[0].bias is not None and isinstance(abf.att[1], torch.nn.Sigmoid)
    assert ABF(32, 64, 16, fuse=False).att is None
    # kaiming_uniform(a=1): bound = sqrt(6 / ((1 + a^2) * fan_in)) = sqrt(3 / fan_in)
    bound = (3 / 32)**0.5
    w = abf.conv1[0].weight
    assert w.abs().max() <= bound and w.abs().max() > 0.8 * bound
    torch.manual_seed(0)
    x, res = torch.randn(2, 32, 8, 8), torch.randn(2, 64, 4, 4)
    y, fused = abf(x, res, (16, 16))
    assert y.shape == (2, 16, 16, 16) and fused.shape == (2, 64, 16, 16)
    with pytest.raises(ValueError):
        abf(x)


def test_mid_channel_rule():
    assert review_mid_channels([16, 32, 64, 64]) == 64
    assert review_mid_channels([64, 128, 256, 512, 1024]) == 512


@pytest.mark.parametrize('s_shapes,t_shapes', [
    # R56 -> R20 on 32x32 (3 stages + pooled)
    ([(16, 32, 32), (32, 16, 16), (64, 8, 8), (64, 1, 1)],
     [(16, 32, 32), (32, 16, 16), (64, 8, 8), (64, 1, 1)]),
    # R32x4 -> ShuffleV1-like student: different channels and spatial sizes
    ([(240, 16, 16), (480, 8, 8), (960, 4, 4), (960, 1, 1)],
     [(64, 32, 32), (128, 16, 16), (256, 8, 8), (256, 1, 1)]),
])
@pytest.mark.parametrize('split_attention', [True, False])
def test_connector_matches_official_formulation(s_shapes, t_shapes, split_attention):
    torch.manual_seed(0)
    conn = ReviewKDConnector(split_attention=split_attention)
    conn.build_chain(s_shapes, t_shapes)
    assert conn.mid_channels == min(512, s_shapes[-1][0])
    assert [a.fuse for a in conn.abfs] == [True] * (len(s_shapes) - 1) + [False]
    for abf in conn.abfs:  # make BN affine and attention non-trivial
        for p in abf.parameters():
            p.data.add_(0.1 * torch.randn_like(p))
    feats = [torch.randn(3, *s) for s in s_shapes]
    t_feats = [torch.randn(3, *t) for t in t_shapes]
    out = conn(feats)
    assert [tuple(o.shape[1:]) for o in out] == [tuple(t) for t in t_shapes]
    ref = _ref_review(feats, conn, [t[1] for t in t_shapes])
    for o, r in zip(out, ref):
        torch.testing.assert_close(o, r, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(hcl_loss(out, t_feats), _ref_hcl(ref, t_feats), rtol=1e-5,
                               atol=1e-6)


@pytest.mark.parametrize('shapes', [
    [(8, 8, 8), (16, 4, 4), (16, 2, 2), (16, 1, 1)],  # upsampled and broadcast residuals
    [(8, 4, 4), (16, 8, 8), (16, 1, 1)],  # a residual larger than its stage: downsampled
])
def test_split_attention_equals_concat_in_values_and_gradients(shapes):
    torch.manual_seed(0)
    fast, ref = ReviewKDConnector(), ReviewKDConnector(split_attention=False, fused_ops=False)
    fast.build_chain(shapes, shapes)
    ref.build_chain(shapes, shapes)
    ref.load_state_dict(fast.state_dict())  # same parameters, same state-dict keys
    assert fast.abfs[0].split_attention and not ref.abfs[0].split_attention
    for p in fast.parameters():
        p.data.add_(0.1 * torch.randn_like(p))
    ref.load_state_dict(fast.state_dict())
    feats = [torch.randn(2, *s) for s in shapes]
    grads = [torch.randn(2, *s) for s in shapes]
    outs = []
    for conn in (fast, ref):
        inputs = [f.clone().requires_grad_() for f in feats]
        out = conn(inputs)
        sum((o * g).sum() for o, g in zip(out, grads)).backward()
        outs.append((out, [i.grad for i in inputs],
                     {n: p.grad for n, p in conn.named_parameters()}))
    for a, b in zip(outs[0][0] + outs[0][1], outs[1][0] + outs[1][1]):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-5)
    for name, g in outs[0][2].items():
        torch.testing.assert_close(g, outs[1][2][name], rtol=1e-4, atol=1e-5, msg=name)


def test_connector_gradients_reach_every_abf_and_the_input():
    conn = ReviewKDConnector(in_channels=[8, 16, 16], out_channels=[4, 8, 8])
    conn.build_chain([(8, 8, 8), (16, 4, 4), (16, 1, 1)], [(4, 8, 8), (8, 4, 4), (8, 1, 1)])
    feats = [torch.randn(2, 8, 8, 8, requires_grad=True), torch.randn(2, 16, 4, 4),
             torch.randn(2, 16, 1, 1)]
    torch.manual_seed(1)
    sum((o * torch.randn_like(o)).sum() for o in conn(feats)).backward()
    assert feats[0].grad is not None and feats[0].grad.abs().sum() > 0
    for name, p in conn.named_parameters():
        assert p.grad is not None and p.grad.abs().sum() > 0, name


def test_connector_build_errors_name_the_keys():
    conn = ReviewKDConnector()
    with pytest.raises(ValueError, match='out_indices'):
        conn.build_chain([(16, 8, 8), (64, 1, 1)], [(16, 8, 8), (32, 4, 4), (64, 1, 1)],
                         key='model.distiller.connectors.review')
    conn = ReviewKDConnector(in_channels=[16, 32], out_channels=[16, 32])
    with pytest.raises(ValueError, match=r'connectors.review.in_channels=\[16, 32\]'):
        conn.build_chain([(16, 8, 8), (64, 1, 1)], [(16, 8, 8), (32, 1, 1)],
                         key='model.distiller.connectors.review')
    with pytest.raises(ValueError, match='pooled 1x1'):
        ReviewKDConnector().build_chain([(16, 8, 8), (64, 1, 1)], [(16, 8, 8), (64, 4, 4)])
    with pytest.raises(RuntimeError, match='not built'):
        ReviewKDConnector()([torch.randn(1, 4, 2, 2)])


def test_compute_dtype_rejects_unknown_values_naming_the_key():
    with pytest.raises(ValueError, match=r'connectors.<name>.compute_dtype'):
        ReviewKDConnector(compute_dtype='bf16')


def test_auto_compute_dtype_is_bfloat16_only_on_a_cpu_with_native_bf16(monkeypatch):
    from mmreviewkd.models.connectors import review_connector
    cpu, cuda = torch.device('cpu'), torch.device('cuda')
    for native in (True, False):
        monkeypatch.setattr(review_connector, 'cpu_has_native_bf16', lambda: native)
        assert ReviewKDConnector(compute_dtype='auto').autocast_dtype(cpu) == (
            torch.bfloat16 if native else None)
        assert ReviewKDConnector(compute_dtype='auto').autocast_dtype(cuda) is None
        assert ReviewKDConnector(compute_dtype='bfloat16').autocast_dtype(cpu) == torch.bfloat16
        assert ReviewKDConnector().autocast_dtype(cpu) is None  # the default: float32
        # 'auto' lowers float32 only: a float64 reference stays float64
        assert ReviewKDConnector(compute_dtype='auto').autocast_dtype(cpu, torch.float64) is None


def _relative(a, b):
    return ((a.double() - b.double()).norm() / b.double().norm()).item()


@pytest.mark.parametrize('memory_format', [torch.channels_last, torch.contiguous_format])
def test_bfloat16_review_path_runs_in_bf16_within_bf16_rounding_of_float64(memory_format):
    """``compute_dtype='bfloat16'``: the fused maps come out in bfloat16, the student's
    features get float32 gradients, and outputs, loss and gradients stay within a few bf16
    rounding steps (2^-8 = 0.4 %) of the official formulation in float64 (measured: outputs
    0.56 %, loss 8e-5, input gradients 0.7-0.8 %; float32: 5e-7); the running statistics stay
    float32."""
    torch.manual_seed(0)
    shapes = [(16, 16, 16), (32, 8, 8), (64, 4, 4), (64, 1, 1)]  # R56 -> R20 at half size
    bf16 = ReviewKDConnector(compute_dtype='bfloat16')
    bf16.build_chain(shapes, shapes)
    for p in bf16.parameters():
        p.data.add_(0.1 * torch.randn_like(p))
    bf16.to(memory_format=memory_format)
    fp32 = ReviewKDConnector()
    fp32.build_chain(shapes, shapes)
    fp32.load_state_dict(bf16.state_dict())
    fp32.to(memory_format=memory_format)
    feats = [torch.randn(8, *s).contiguous(memory_format=memory_format).requires_grad_()
             for s in shapes]
    fp32([f.detach() for f in feats])
    t_feats = [torch.randn(8, *s) for s in shapes]
    out = bf16(feats)
    assert all(o.dtype == torch.bfloat16 for o in out)
    loss = hcl_loss(out, t_feats)
    assert loss.dtype == torch.float32
    loss.backward()
    assert all(f.grad.dtype == torch.float32 for f in feats)
    # the running statistics: float32, updated from the bf16 maps as from the fp32 ones
    fp32_buffers = dict(fp32.named_buffers())
    for name, buf in bf16.named_buffers():
        if 'running' in name:
            assert buf.dtype == torch.float32
            torch.testing.assert_close(buf, fp32_buffers[name], rtol=2e-2, atol=2e-3, msg=name)
    # the reference: the official formulation in float64 on the same parameters
    feats64 = [f.detach().double().requires_grad_() for f in feats]
    ref = _ref_review(feats64, bf16.double(), [s[1] for s in shapes])
    ref_loss = _ref_hcl(ref, [t.double() for t in t_feats])
    ref_loss.backward()
    assert _relative(torch.cat([o.flatten() for o in out]),
                     torch.cat([r.flatten() for r in ref])) < 1e-2
    assert abs(loss.item() - ref_loss.item()) / ref_loss.item() < 5e-4
    assert _relative(torch.cat([f.grad.flatten() for f in feats]),
                     torch.cat([f.grad.flatten() for f in feats64])) < 2e-2
