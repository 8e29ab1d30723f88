"""Uniform checks over every CIFAR KD backbone of the package (timm-style)."""
import pytest
import torch

from mmreviewkd.models.backbones import (MobileNetV2Cifar, ResNetCifar, ShuffleNetV1Cifar,
                                         ShuffleNetV2Cifar, VGGCifar, WideResNetCifar)
from mmreviewkd.utils import disable_inplace

# name: (factory with every stage returned, feature dim of the classifier, params in M with a
# 100-way FC as listed by the CRD/ReviewKD tables, expected (C, H, W) per stage at 32x32)
ZOO = {
    'wrn_40_2': (lambda: WideResNetCifar(40, 2, out_indices=(0, 1, 2)), 128, 2.26,
                 [(32, 32, 32), (64, 16, 16), (128, 8, 8)]),
    'wrn_16_2': (lambda: WideResNetCifar(16, 2, out_indices=(0, 1, 2)), 128, 0.70,
                 [(32, 32, 32), (64, 16, 16), (128, 8, 8)]),
    'wrn_40_1': (lambda: WideResNetCifar(40, 1, out_indices=(0, 1, 2)), 64, 0.57,
                 [(16, 32, 32), (32, 16, 16), (64, 8, 8)]),
    'vgg8': (lambda: VGGCifar(8, out_indices=(0, 1, 2, 3, 4)), 512, 3.96,
             [(64, 32, 32), (128, 16, 16), (256, 8, 8), (512, 4, 4), (512, 4, 4)]),
    'vgg13': (lambda: VGGCifar(13, out_indices=(0, 1, 2, 3, 4)), 512, 9.46,
              [(64, 32, 32), (128, 16, 16), (256, 8, 8), (512, 4, 4), (512, 4, 4)]),
    'mobilenetv2': (lambda: MobileNetV2Cifar(out_indices=(0, 1, 2, 3, 4, 5)), 1280, 0.81,
                    [(16, 16, 16), (12, 16, 16), (16, 8, 8), (48, 4, 4), (160, 2, 2),
                     (1280, 2, 2)]),
    'shufflev1': (lambda: ShuffleNetV1Cifar(out_indices=(0, 1, 2)), 960, 0.95,
                  [(240, 16, 16), (480, 8, 8), (960, 4, 4)]),
    'shufflev2': (lambda: ShuffleNetV2Cifar(out_indices=(0, 1, 2, 3)), 1024, 1.35,
                  [(116, 16, 16), (232, 8, 8), (464, 4, 4), (1024, 4, 4)]),
    'resnet8x4': (lambda: ResNetCifar(8, width=4, out_indices=(0, 1, 2)), 256, None,
                  [(64, 32, 32), (128, 16, 16), (256, 8, 8)]),
}


@pytest.mark.parametrize('name', sorted(ZOO))
def test_params_shapes_finite_and_gradients(name):
    make, feat_dim, params, shapes = ZOO[name]
    torch.manual_seed(0)
    model = make()
    model.init_weights()
    if params is not None:
        total = sum(p.numel() for p in model.parameters()) + feat_dim * 100 + 100
        assert total / 1e6 == pytest.approx(params, abs=0.01)
    outs = model(torch.randn(2, 3, 32, 32))
    assert [tuple(o.shape[1:]) for o in outs] == shapes
    assert list(model.out_channels) == [s[0] for s in shapes]
    assert all(torch.isfinite(o).all() for o in outs)
    sum(o.float().mean() for o in outs).backward()
    for pname, p in model.named_parameters():
        assert p.grad is not None, pname


@pytest.mark.parametrize('name', ['wrn_40_2', 'vgg13', 'shufflev1', 'resnet8x4'])
def test_preact_sources_exist_and_match_the_returned_stages(name):
    model = ZOO[name][0]()
    disable_inplace(model)  # otherwise in-place ReLUs overwrite the recorded inputs
    modules = dict(model.named_modules())
    sources = model.preact_sources()
    assert len(sources) == len(model.out_indices)
    recorded = {}

    def record(name):
        def hook(module, inputs, output):
            recorded[name] = inputs[0].clone()
        return hook

    hooks = [modules[s].register_forward_hook(record(s)) for s in sources]
    outs = model(torch.randn(2, 3, 32, 32))
    for h in hooks:
        h.remove()
    for s, out in zip(sources, outs):
        pre = recorded[s]
        assert pre.shape == out.shape
        # the recorded tensor is the stage output before its final activation
        assert (pre < 0).any()
        if (out >= 0).all():
            torch.testing.assert_close(out, pre.clamp(min=0))


@pytest.mark.parametrize('cfg', [
    dict(type='ResNetCifar', depth=20, out_indices=(0, 1, 2)),
    dict(type='ResNetCifar', depth=8, width=4, out_indices=(0, 1, 2)),
    dict(type='WideResNetCifar', depth=16, widen_factor=2, out_indices=(0, 1, 2)),
], ids=['resnet20', 'resnet8x4', 'wrn_16_2'])
def test_forward_stage_chain_equals_forward(cfg):
    from mmreviewkd.registry import MODELS
    torch.manual_seed(0)
    backbone = MODELS.build(dict(cfg, type='mmreviewkd.' + cfg['type'])).eval()
    assert backbone.supports_stagewise
    x = torch.randn(2, 3, 32, 32)
    outs, y = [], x
    for i in range(3):
        y = backbone.forward_stage(y, i)
        outs.append(y)
    for a, b in zip(backbone(x), outs):
        torch.testing.assert_close(a, b)
