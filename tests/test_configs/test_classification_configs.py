"""Every classification config parses, builds, and (distillation configs) runs one
forward/backward on a small batch on CPU."""
import copy
import glob
import os.path as osp

import pytest
import torch
from mmengine.config import Config
from mmengine.registry import DefaultScope
from mmpretrain.structures import DataSample

from mmreviewkd.experiments.paths import project_root
from mmreviewkd.registry import MODELS

ROOT = project_root()
CONFIGS = sorted(
    glob.glob(osp.join(ROOT, 'configs', 'fashion_mnist', '*.py')) +
    glob.glob(osp.join(ROOT, 'configs', 'cifar100', '*.py')) +
    glob.glob(osp.join(ROOT, 'configs', 'reviewkd', '*.py')) +
    glob.glob(osp.join(ROOT, 'configs', 'imagenet', '*.py')) +
    glob.glob(osp.join(ROOT, 'configs', 'tskd', '*.py')))


def _id(path):
    return osp.relpath(path, osp.join(ROOT, 'configs'))


def build_model(cfg):
    model_cfg = copy.deepcopy(cfg.model)
    if 'teacher_ckpt' in model_cfg:
        model_cfg.teacher_ckpt = None
    if model_cfg.get('data_preprocessor', 0) == 0 and cfg.get('data_preprocessor'):
        model_cfg.data_preprocessor = cfg.data_preprocessor
    with DefaultScope.overwrite_default_scope(cfg.get('default_scope', 'mmreviewkd')):
        return MODELS.build(model_cfg)


def test_every_paper_pair_has_a_config():
    names = {osp.basename(p) for p in CONFIGS}
    for pair in ('resnet56_resnet20', 'resnet110_resnet32', 'resnet32x4_resnet8x4',
                 'wrn_40_2_wrn_16_2', 'wrn_40_2_wrn_40_1', 'vgg13_vgg8',
                 'resnet32x4_shufflev1', 'wrn_40_2_shufflev1', 'resnet32x4_shufflev2',
                 'resnet50_mobilenetv2', 'vgg13_mobilenetv2'):
        assert f'reviewkd_{pair}_cifar100.py' in names
    assert 'reviewkd_resnet34_resnet18_in1k.py' in names
    assert 'reviewkd_resnet50_mobilenetv1_in1k.py' in names


@pytest.mark.parametrize('path', CONFIGS, ids=_id)
def test_config_builds_and_steps(path):
    cfg = Config.fromfile(path)
    model = build_model(cfg)
    imagenet = 'in1k' in path
    if imagenet:
        # 224x224 ImageNet models: building includes the dry forward; no step on CPU here
        if 'review' in getattr(model, 'feature_shapes', {}):
            assert len(model.feature_shapes['review']['student']) == 5
        return
    torch.manual_seed(0)
    fmnist = 'fmnist' in path
    channels, hw, classes = (1, 28, 10) if fmnist else (3, 32, 100)
    x = torch.randn(2, channels, hw, hw) * 50 + 100
    samples = [DataSample().set_gt_label(i) for i in range(2)]
    data = model.data_preprocessor(dict(inputs=list(x), data_samples=samples), True)
    model.train()
    losses = model(data['inputs'], data['data_samples'], mode='loss')
    total = sum(v for k, v in losses.items() if 'loss' in k)
    assert torch.isfinite(total)
    total.backward()
    if hasattr(model, 'distiller') and 'review' in model.distiller.connectors:
        conn = model.distiller.connectors['review']
        assert all(p.grad is not None for p in conn.parameters())
        assert any('loss_hcl' in k for k in losses)
    model.eval()
    with torch.no_grad():
        preds = model(data['inputs'], data['data_samples'], mode='predict')
    assert preds[0].pred_score.shape == (classes, )
