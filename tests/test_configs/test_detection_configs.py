"""Every detection config builds and runs one forward/backward on a small batch on CPU; the
ReviewKD chain runs on the FPN outputs of two-stage and single-stage students."""
import copy
import glob
import os.path as osp

import pytest
import torch
from mmdet.testing import demo_mm_inputs
from mmengine.config import Config
from mmengine.registry import DefaultScope

from mmreviewkd.experiments.paths import project_root
from mmreviewkd.registry import MODELS

ROOT = project_root()
CONFIGS = sorted(glob.glob(osp.join(ROOT, 'configs', 'reviewkd_det', '*.py')) +
                 glob.glob(osp.join(ROOT, 'configs', 'reviewkd_det', 'fmnist_coco', '*.py')))


def build(path):
    cfg = Config.fromfile(path)
    model_cfg = copy.deepcopy(cfg.model)
    model_cfg.pop('teacher_ckpt', None)
    for part in (model_cfg, model_cfg.get('architecture', {}), model_cfg.get('teacher', {})):
        if 'backbone' in part:
            part['backbone']['init_cfg'] = None  # no download of ImageNet weights in tests
    with DefaultScope.overwrite_default_scope(cfg.get('default_scope', 'mmdet')):
        return MODELS.build(model_cfg)


@pytest.mark.parametrize('path', CONFIGS, ids=lambda p: osp.relpath(p, ROOT))
def test_detection_config_builds_and_steps(path):
    torch.manual_seed(0)
    model = build(path)
    with_mask = 'mask-rcnn' in path
    # two sizes in one batch (padding, per-batch teacher sizes); small enough for CPU
    packed = demo_mm_inputs(2, [(3, 64, 64), (3, 48, 64)], num_items=[3, 2], num_classes=10,
                            with_mask=with_mask)
    data = model.data_preprocessor(packed, True)
    model.train()
    losses = model(data['inputs'], data['data_samples'], mode='loss')
    total = sum(v if isinstance(v, torch.Tensor) else sum(v) for k, v in losses.items()
                if 'loss' in k)
    assert torch.isfinite(total)
    total.backward()
    if hasattr(model, 'distiller'):
        shapes = model.feature_shapes['review']
        assert len(shapes['student']) == len(shapes['teacher']) == 5  # 5 FPN levels
        assert all(s[0] == 256 for s in shapes['student'] + shapes['teacher'])
        conn = model.distiller.connectors['review']
        assert conn.mid_channels == 256 and [a.out_channels for a in conn.abfs] == [256] * 5
        assert losses['distill.loss_hcl'] > 0
        assert not model.channels_last  # auto: detectors stay NCHW-contiguous (mmcv ops)
        assert all(p.grad is not None for p in conn.parameters())
        assert all(p.grad is None for p in model.teacher.parameters())
        # the ABF outputs have the teacher's FPN shapes for this (variable-size) batch
        s_feats = model.distiller.student_recorders.get_recorder('fpn').get_record_data()
        t_feats = model.distiller.teacher_recorders.get_recorder('fpn').get_record_data()
        assert [o.shape for o in conn(s_feats)] == [t.shape for t in t_feats]
