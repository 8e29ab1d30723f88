"""``BatchNormFolding`` (``teacher_fold_bn``): a frozen model's conv -> BatchNorm pairs run as
one conv, the same outputs up to float rounding, the model untouched outside the context."""
import copy

import pytest
import torch
from torch import nn

from mmreviewkd.models.utils.batchnorm_folding import BatchNormFolding


def _randomise_bn(model):
    torch.manual_seed(1)
    with torch.no_grad():
        for bn in model.modules():
            if isinstance(bn, nn.BatchNorm2d):
                bn.weight.uniform_(0.5, 1.5)
                bn.bias.normal_()
                bn.running_mean.normal_()
                bn.running_var.uniform_(0.5, 2.0)
    return model.eval()


class Net(nn.Module):
    """conv-bn-relu, a biased strided grouped conv-bn and two 1x1 conv-bn pairs."""

    def __init__(self):
        super().__init__()
        self.conv1, self.bn1 = nn.Conv2d(3, 8, 3, padding=1, bias=False), nn.BatchNorm2d(8)
        self.conv2, self.bn2 = nn.Conv2d(8, 8, 3, 2, 1, groups=2), nn.BatchNorm2d(8)
        self.conv3, self.bn3 = nn.Conv2d(8, 8, 1, bias=False), nn.BatchNorm2d(8)
        self.conv4, self.bn4 = nn.Conv2d(8, 8, 1, bias=False), nn.BatchNorm2d(8)

    def forward(self, x):
        x = torch.relu(self.bn1(self.conv1(x)))
        x = self.bn2(self.conv2(x))
        x = self.bn3(self.conv3(x))
        return self.bn4(self.conv4(x))


def test_folded_pairs_give_the_plain_outputs_and_leave_the_model_untouched():
    torch.manual_seed(0)
    net = _randomise_bn(Net())
    net.conv3.register_forward_hook(lambda m, i, o: None)  # a recorder's hook: not folded
    x = torch.randn(2, 3, 8, 8)
    folding = BatchNormFolding(net, lambda: net(x))
    assert folding.pairs == [('conv1', 'bn1'), ('conv2', 'bn2'), ('conv4', 'bn4')]
    state = copy.deepcopy(net.state_dict())
    with torch.no_grad():
        plain = net(x)
        with folding.active(net):
            assert 'forward' in vars(net.conv1) and 'forward' in vars(net.bn1)
            with folding.active(net):  # re-entering folds nothing more and restores nothing
                pass
            assert 'forward' in vars(net.conv1)
            folded = net(x)
    torch.testing.assert_close(folded, plain, rtol=1e-5, atol=1e-5)
    for m in (net.conv1, net.bn1, net.conv2, net.bn2, net.conv4, net.bn4):
        assert 'forward' not in vars(m)  # restored: the class forward runs again
    assert all(torch.equal(v, net.state_dict()[k]) for k, v in state.items())  # check restored
    copy.deepcopy(net)(x)  # copies are plain modules


def test_folding_follows_the_current_weights_modules_and_hooks():
    """Statistics loaded after the build, a BatchNorm the runner swaps for another (as MMEngine
    does reverting or converting SyncBatchNorm), a BatchNorm back in training mode and a hook
    added after the build: folded outputs stay the plain ones."""
    net = _randomise_bn(Net())
    x = torch.randn(2, 3, 8, 8)
    folding = BatchNormFolding(net, lambda: net(x))
    with torch.no_grad():
        net.bn1.running_mean.add_(0.5)  # e.g. a checkpoint loaded after the build
        swapped = nn.BatchNorm2d(8).eval()
        swapped.load_state_dict(net.bn2.state_dict())
        swapped.running_var.mul_(3.0)
        net.bn2 = swapped
        net.conv4.register_forward_hook(lambda m, i, o: None)
        plain = net(x)
        with folding.active(net):
            torch.testing.assert_close(net(x), plain, rtol=1e-5, atol=1e-5)
            assert 'forward' in vars(net.bn2) and 'forward' not in vars(net.bn4)
        net.bn1.train()
        with folding.active(net):
            assert 'forward' not in vars(net.bn1) and 'forward' in vars(net.bn2)


class Shared(Net):
    """conv4's output is read by its BatchNorm and by a residual sum; conv3's is changed in
    place before its BatchNorm."""

    def forward(self, x):
        x = torch.relu(self.bn1(self.conv1(x)))
        x = self.bn2(self.conv2(x))
        x = self.bn3(torch.relu_(self.conv3(x)))
        y = self.conv4(x)
        return self.bn4(y) + y


def test_a_conv_output_read_twice_or_changed_in_place_is_not_folded(monkeypatch):
    """Even with the BatchNorms' initial (identity) statistics, as before a checkpoint loads."""
    import mmreviewkd.models.utils.batchnorm_folding as module
    warnings = []
    monkeypatch.setattr(module, 'print_log', lambda msg, **kw: warnings.append(msg))
    net = Shared().eval()
    x = torch.randn(2, 3, 8, 8)
    state = copy.deepcopy(net.state_dict())
    folding = BatchNormFolding(net, lambda: net(x))
    assert folding.pairs == []  # conv3 -> relu_ -> bn3 never paired; the shared conv4 caught
    assert len(warnings) == 1 and 'unfolded' in warnings[0]
    assert all(torch.equal(v, net.state_dict()[k]) for k, v in state.items())


def test_a_folded_forward_that_fails_turns_folding_off(monkeypatch):
    import mmreviewkd.models.utils.batchnorm_folding as module
    warnings = []
    monkeypatch.setattr(module, 'print_log', lambda msg, **kw: warnings.append(msg))
    net = _randomise_bn(Net())
    x = torch.randn(2, 3, 8, 8)
    monkeypatch.setattr(module, '_identity', lambda t: t[:, :1])  # breaks the folded forward
    assert BatchNormFolding(net, lambda: net(x)).pairs == []
    assert len(warnings) == 1


@pytest.mark.parametrize('trainable', [False, True])
def test_teacher_fold_bn_option_of_the_algorithm(trainable):
    from mmengine.registry import DefaultScope

    from mmreviewkd.registry import MODELS
    teacher = dict(_scope_='mmpretrain', type='ImageClassifier',
                   backbone=dict(type='mmreviewkd.ResNetCifar', depth=14),
                   neck=dict(type='GlobalAveragePooling'),
                   head=dict(type='LinearClsHead', num_classes=10, in_channels=64,
                             loss=dict(type='CrossEntropyLoss')))
    student = dict(teacher, backbone=dict(type='mmreviewkd.ResNetCifar', depth=8))
    cfg = dict(type='FrozenTeacherDistill', architecture=student, teacher=teacher,
               teacher_trainable=trainable,
               distiller=dict(type='ConfigurableDistiller',
                              student_recorders=dict(logits=dict(type='ModuleOutputs',
                                                                 source='head.fc')),
                              teacher_recorders=dict(logits=dict(type='ModuleOutputs',
                                                                 source='head.fc')),
                              distill_losses=dict(loss_kl=dict(type='KLDivergence', tau=4)),
                              loss_forward_mappings=dict(loss_kl=dict(
                                  preds_S=dict(from_student=True, recorder='logits'),
                                  preds_T=dict(from_student=False, recorder='logits')))))
    with DefaultScope.overwrite_default_scope('mmreviewkd'):
        algo = MODELS.build(cfg)
        assert algo.teacher_fold_bn is not trainable
        if not trainable:  # stem + 3 x (2 convs per block) + 2 shortcuts of ResNet-14
            assert len(algo._teacher_bn_folding.pairs) == 1 + 3 * 2 * 2 + 2
        with pytest.raises(TypeError, match='model.teacher_fold_bn'):
            MODELS.build(dict(cfg, teacher_fold_bn='yes'))
