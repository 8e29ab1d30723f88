import pytest
import torch

from mmreviewkd.models.backbones import ResNetCifar

# Parameter counts of the KD literature, in M, rounded to 2 decimals (He et al. 2016 and the
# CRD/ReviewKD tables: resnet20 0.27M, resnet56 0.86M, resnet110 1.73M, resnet8x4 1.23M,
# resnet32x4 7.43M). They are backbone + a 10-way FC (He et al.'s CIFAR-10 convention).
LITERATURE_PARAMS = {(20, 1): 0.27, (56, 1): 0.86, (110, 1): 1.73, (8, 4): 1.23, (32, 4): 7.43}


@pytest.mark.parametrize('depth,width', sorted(LITERATURE_PARAMS))
def test_param_count_matches_literature(depth, width):
    backbone = ResNetCifar(depth=depth, width=width)
    fc = 64 * width * 10 + 10
    total = sum(p.numel() for p in backbone.parameters()) + fc
    assert round(total / 1e6, 2) == LITERATURE_PARAMS[(depth, width)]


def test_resnet20_exact_count():
    # conv stem 432 + BN 32, 9 blocks, 2 projection shortcuts: 271,824 parameters.
    assert sum(p.numel() for p in ResNetCifar(20).parameters()) == 278324 - 6500


@pytest.mark.parametrize('depth,width', [(20, 1), (8, 4)])
def test_stage_shapes_and_declared_channels(depth, width):
    m = ResNetCifar(depth=depth, width=width, out_indices=(0, 1, 2), in_channels=1)
    outs = m(torch.randn(2, 1, 32, 32))
    assert [tuple(o.shape[1:]) for o in outs] == [
        (16 * width, 32, 32), (32 * width, 16, 16), (64 * width, 8, 8)]
    assert m.out_channels == tuple(o.shape[1] for o in outs)
    assert all(torch.isfinite(o).all() for o in outs)
    assert m.preact_sources() == [f'layer{i}.{(depth - 2) // 6 - 1}.relu_out' for i in (1, 2, 3)]


def test_every_parameter_gets_a_gradient_and_freezing():
    m = ResNetCifar(depth=8, out_indices=(0, 1, 2))
    sum(o.mean() for o in m(torch.randn(2, 3, 32, 32))).backward()
    for name, p in m.named_parameters():
        assert p.grad is not None and p.grad.abs().sum() > 0, name
    frozen = ResNetCifar(depth=8, frozen_stages=1)
    frozen.train()
    assert not any(p.requires_grad for p in frozen.layer1.parameters())
    assert not frozen.bn1.training and frozen.layer2.training
    assert all(p.requires_grad for p in frozen.layer2.parameters())


def test_bad_arguments():
    with pytest.raises(ValueError, match='depth'):
        ResNetCifar(depth=18)
    with pytest.raises(ValueError, match='out_indices'):
        ResNetCifar(out_indices=(3, ))
