import pytest
import torch
from mmengine.registry import DefaultScope
from mmpretrain.structures import DataSample

from mmreviewkd.registry import MODELS


def build(backbone, channels, input_shape, **kwargs):
    cfg = dict(
        _scope_='mmpretrain', type='mmreviewkd.MultiExitClassifier', backbone=backbone,
        neck=dict(type='GlobalAveragePooling'),
        head=dict(type='LinearClsHead', num_classes=7, in_channels=channels),
        input_shape=input_shape, **kwargs)
    with DefaultScope.overwrite_default_scope('mmreviewkd'):
        return MODELS.build(cfg)


BACKBONES = {
    'cifar_resnet20': (dict(type='mmreviewkd.ResNetCifar', depth=20, out_indices=(0, 1, 2)),
                       64, (3, 32, 32), [16, 32]),
    'mmpretrain_resnet18': (dict(type='ResNet', depth=18, out_indices=(0, 1, 2, 3)), 512,
                            (3, 64, 64), [64, 128, 256]),
    'mmpretrain_mobilenetv2': (dict(type='MobileNetV2', widen_factor=0.5, out_indices=(2, 4, 7)),
                               1280, (3, 64, 64), [16, 48]),
}


@pytest.mark.parametrize('name', sorted(BACKBONES))
def test_exit_shapes_on_several_backbones(name):
    backbone, channels, shape, exit_in = BACKBONES[name]
    model = build(backbone, channels, shape)
    assert model.num_exits == len(exit_in) + 1
    assert [e.layers[0].in_channels for e in model.exits] == exit_in
    x = torch.randn(2, *shape)
    logits, feats = model.forward_exits(x)
    assert [tuple(lg.shape) for lg in logits] == [(2, 7)] * model.num_exits
    assert [tuple(f.shape) for f in feats] == [(2, channels)] * model.num_exits
    torch.testing.assert_close(model(x, mode='tensor'), logits[-1])
    sum(lg.sum() for lg in logits).backward()
    assert all(p.grad is not None for p in model.exits.parameters())


def test_loss_predict_and_exit_scores():
    backbone, channels, shape, _ = BACKBONES['cifar_resnet20']
    model = build(backbone, channels, shape, vote='hard')
    x = torch.randn(3, *shape)
    samples = [DataSample().set_gt_label(i) for i in range(3)]
    losses = model(x, samples, mode='loss')
    assert set(losses) == {'loss_ce_exit1', 'loss_ce_exit2', 'loss_ce_exit3'}
    model.eval()
    out = model(x, [DataSample() for _ in range(3)], mode='predict')
    assert out[0].exit_scores.shape == (3, 7)
    torch.testing.assert_close(out[0].exit_scores.sum(1), torch.ones(3))
    model.early_exit_threshold = 0.0
    out = model(x, None, mode='predict')
    assert all(o.exit_used == 0 for o in out)
    torch.testing.assert_close(out[0].pred_score, out[0].exit_scores[0])


def test_config_errors_name_the_key():
    backbone, channels, shape, _ = BACKBONES['cifar_resnet20']
    with pytest.raises(ValueError, match='model.vote'):
        build(backbone, channels, shape, vote='median')
    with pytest.raises(ValueError, match='exit_indices'):
        build(backbone, channels, shape, exit_indices=[2])
    with pytest.raises(ValueError, match='out_indices'):
        build(dict(type='mmreviewkd.ResNetCifar', depth=8), 64, shape)
    with pytest.raises(ValueError, match='vote_weights'):
        build(backbone, channels, shape, vote='weighted', vote_weights=[1, 2])
    with pytest.raises(ValueError, match=r'model.early_exit_threshold=\[0.9, 0.8, 0.7, 0.6\]'):
        build(backbone, channels, shape, early_exit_threshold=[0.9, 0.8, 0.7, 0.6])


STAGEWISE = {
    'cifar_resnet20': dict(type='mmreviewkd.ResNetCifar', depth=20, out_indices=(0, 1, 2)),
    'cifar_wrn_16_2': dict(type='mmreviewkd.WideResNetCifar', depth=16, widen_factor=2,
                           out_indices=(0, 1, 2)),
}


@pytest.mark.parametrize('name', sorted(STAGEWISE))
@pytest.mark.parametrize('vote,exit_indices', [('soft', None), ('hard', None), ('exit', [1])])
def test_stagewise_early_exit_matches_the_batched_rule(name, vote, exit_indices):
    torch.manual_seed(0)
    backbone = STAGEWISE[name]
    channels = 64 if 'resnet' in name else 128
    model = build(backbone, channels, (3, 32, 32), vote=vote, exit_indices=exit_indices)
    model.eval()
    x = torch.randn(24, 3, 32, 32)
    # thresholds between the samples' confidences, so the batch splits between the exits
    # (midpoints between sorted confidences: no sample sits on a threshold)
    conf = model.exit_probs(x).max(-1).values.sort(dim=1).values  # (K, N)

    def between(row, i):
        return float(row[i] + row[i + 1]) / 2

    thresholds = [0.0, between(conf[0], 7), between(conf[0], 16), between(conf[-1], 12), 1.01,
                  # one threshold per exit (exit_thresholds), and per shallow exit only
                  [between(conf[k], 6 + 4 * k) for k in range(conf.shape[0])],
                  [between(conf[k], 9) for k in range(conf.shape[0] - 1)]]
    seen, mixed = [], []
    hook = getattr(model.backbone, 'layer3' if 'resnet' in name else 'block3')\
        .register_forward_hook(lambda m, i, o: seen.append(i[0].shape[0]))
    for threshold in thresholds:
        model.early_exit_threshold = threshold
        model.early_exit_stagewise = False
        ref = model(x, None, mode='predict')
        model.early_exit_stagewise = True
        seen.clear()
        out = model(x, None, mode='predict')
        ref_used = torch.tensor([r.exit_used for r in ref])
        mixed.append(len(set(ref_used.tolist())) > 1)
        assert [o.exit_used for o in out] == ref_used.tolist(), threshold
        torch.testing.assert_close(torch.stack([o.pred_score for o in out]),
                                   torch.stack([r.pred_score for r in ref]))
        # the last stage ran only on the samples no shallower exit answered
        early = int((ref_used < model.num_exits - 1).sum())
        assert seen == ([x.shape[0] - early] if early < x.shape[0] else []), threshold
    hook.remove()
    assert any(mixed)  # some threshold split the batch between several exits


def test_stagewise_early_exit_needs_a_stagewise_backbone():
    backbone, channels, shape, _ = BACKBONES['mmpretrain_resnet18']
    with pytest.raises(ValueError, match='model.early_exit_stagewise'):
        build(backbone, channels, shape, early_exit_threshold=0.9, early_exit_stagewise=True)


def test_byot_self_distillation_terms_send_no_gradient_into_the_deepest_exit():
    """BYOT (no teacher): CE on every exit; KL and feature terms on the shallow exits only, with
    the deepest exit as a constant target."""
    backbone, channels, shape, _ = BACKBONES['cifar_resnet20']
    model = build(backbone, channels, shape, self_distill=dict(
        type='mmreviewkd.TSKDLoss', teacher_kd_weight=0.0))
    x = torch.randn(4, *shape)
    samples = [DataSample().set_gt_label(i) for i in range(4)]
    losses = model.loss(x, samples)
    assert sorted(losses) == ['loss_ce_exit1', 'loss_ce_exit2', 'loss_ce_exit3',
                              'loss_feat_exit1', 'loss_feat_exit2', 'loss_sd_exit1',
                              'loss_sd_exit2']
    (losses['loss_sd_exit1'] + losses['loss_feat_exit2']).backward()
    assert model.head.fc.weight.grad is None  # the deepest exit is the (detached) target
    assert model.exits[0].fc.weight.grad.abs().sum() > 0
    with pytest.raises(ValueError, match='model.self_distill and model.exit_loss_weights'):
        build(backbone, channels, shape, exit_loss_weights=[1, 1, 1],
              self_distill=dict(type='mmreviewkd.TSKDLoss'))
