import torch
from mmengine.registry import DefaultScope

from mmreviewkd.models.utils.flops import _MacCounter, multi_exit_macs
from mmreviewkd.registry import MODELS


def test_multi_exit_macs_match_a_separate_count():
    with DefaultScope.overwrite_default_scope('mmreviewkd'):
        model = MODELS.build(dict(
            _scope_='mmpretrain', type='mmreviewkd.MultiExitClassifier',
            backbone=dict(type='mmreviewkd.ResNetCifar', depth=8, out_indices=(0, 1, 2)),
            neck=dict(type='GlobalAveragePooling'),
            head=dict(type='LinearClsHead', num_classes=10, in_channels=64),
            input_shape=(3, 32, 32)))
    macs = multi_exit_macs(model, (3, 32, 32))
    bb = model.backbone
    # stem + layer1 counted on their own
    counter = _MacCounter(torch.nn.Sequential(bb.conv1, bb.bn1, bb.relu, bb.layer1))
    torch.nn.Sequential(bb.conv1, bb.bn1, bb.relu, bb.layer1)(torch.zeros(1, 3, 32, 32))
    counter.remove()
    # hand count of the stem conv: 32*32 outputs x 16 channels x 27 MACs
    assert counter.calls[0]['after'] == 32 * 32 * 16 * 27
    assert macs['exit'][0] == counter.total + macs['branch'][0]
    assert macs['exit'][0] < macs['exit'][1] < macs['exit'][2] == macs['ensemble']
    assert macs['branch'][-1] == 64 * 10  # the head's FC
