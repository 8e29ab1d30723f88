"""End to end on the generated Fashion-MNIST COCO data: teacher training, ReviewKD students
(Faster R-CNN and Mask R-CNN) through tools/train.py, CocoMetric through tools/test.py, and the
exported student in the plain MMDet detector."""
import os.path as osp

import pytest
import torch

from mmreviewkd.experiments.paths import project_root

ROOT = project_root()
DET = osp.join(ROOT, 'configs', 'reviewkd_det', 'fmnist_coco')


@pytest.fixture(scope='module')
def coco_root(tmp_path_factory, fmnist_root, tool):
    out = tmp_path_factory.mktemp('fmnist_coco')
    tool('tools/dataset_converters/make_fmnist_coco.py', '--src', fmnist_root, '--out', str(out),
         '--train', '4', '--val', '2', '--seed', '1')
    return str(out)


def opts(root, teacher_ckpt=None):
    o = [f'train_dataloader.dataset.data_root={root}/', f'val_dataloader.dataset.data_root={root}/',
         f'test_dataloader.dataset.data_root={root}/',
         f'val_evaluator.ann_file={root}/annotations/instances_val.json',
         f'test_evaluator.ann_file={root}/annotations/instances_val.json',
         'train_cfg.max_epochs=1', 'train_dataloader.batch_size=2',
         'train_dataloader.num_workers=0',
         'train_dataloader.persistent_workers=False', 'val_dataloader.num_workers=0',
         'val_dataloader.persistent_workers=False', 'test_dataloader.num_workers=0',
         'test_dataloader.persistent_workers=False', 'default_hooks.logger.interval=1']
    if teacher_ckpt:
        o += [f'model.teacher_ckpt={teacher_ckpt}', 'model.teacher.backbone.depth=18',
              'model.teacher.neck.in_channels=[64,128,256,512]']
    return o


def test_generated_dataset_is_deterministic(tmp_path, fmnist_root, coco_root, tool):
    out = tmp_path / 'again'
    tool('tools/dataset_converters/make_fmnist_coco.py', '--src', fmnist_root, '--out', str(out),
         '--train', '4', '--val', '2', '--seed', '1')
    for split in ('train', 'val'):
        a = open(osp.join(coco_root, 'annotations', f'instances_{split}.json')).read()
        b = open(out / 'annotations' / f'instances_{split}.json').read()
        assert a == b
    import json
    coco = json.loads(a)
    assert coco['annotations'] and all(1 <= ann['category_id'] <= 10
                                       for ann in coco['annotations'])


@pytest.mark.parametrize('arch', ['faster-rcnn', 'mask-rcnn'])
def test_reviewkd_detector_train_test_export(tmp_path, coco_root, arch, tool):
    """Faster R-CNN: the teacher is trained by its config; Mask R-CNN: a random teacher of the
    same config (the teacher path is the same code). 4 training / 2 test images; no validation
    during training (the test tool runs CocoMetric); the exporter's CLI is covered by the
    Fashion-MNIST chain."""
    from mmengine.config import Config
    from mmengine.registry import DefaultScope
    from mmengine.runner import load_checkpoint

    from mmreviewkd.apis.export import export_student
    from mmreviewkd.registry import MODELS
    no_val = ['val_cfg=None', 'val_dataloader=None', 'val_evaluator=None']
    teacher_cfg = osp.join(DET, f'{arch}_r18_fpn_fmnistcoco.py')
    teacher = tmp_path / 'teacher.pth'
    if arch == 'faster-rcnn':
        teacher_dir = tmp_path / 'teacher'
        tool('tools/train.py', teacher_cfg, '--work-dir', str(teacher_dir), '--cfg-options',
             *opts(coco_root), *no_val)
        export_student(str(teacher_dir / 'epoch_1.pth'), str(teacher), student_prefix='')
    else:
        with DefaultScope.overwrite_default_scope('mmdet'):
            model = MODELS.build(Config.fromfile(teacher_cfg).model)
        torch.save(dict(state_dict=model.state_dict()), teacher)

    cfg = osp.join(DET, f'reviewkd_{arch}_r50_r18_fpn_fmnistcoco.py')
    o = opts(coco_root, str(teacher))
    log = tool('tools/train.py', cfg, '--work-dir', str(tmp_path / 'student'), '--cfg-options',
               *o, *no_val)
    assert 'distill.loss_hcl' in log
    ckpt = tmp_path / 'student' / 'epoch_1.pth'
    log = tool('tools/test.py', cfg, str(ckpt), '--work-dir', str(tmp_path / 'test'),
               '--cfg-options', *o)
    assert 'coco/bbox_mAP' in log
    if arch == 'mask-rcnn':
        assert 'coco/segm_mAP' in log

    exported = tmp_path / 'student.pth'
    export_student(str(ckpt), str(exported))
    plain_cfg = Config.fromfile(osp.join(DET, f'{arch}_r18_fpn_fmnistcoco.py'))
    distill_cfg = Config.fromfile(cfg)
    distill_cfg.merge_from_dict(dict(model=dict(
        teacher_ckpt=None, teacher=dict(backbone=dict(depth=18),
                                        neck=dict(in_channels=[64, 128, 256, 512])))))
    with DefaultScope.overwrite_default_scope('mmdet'):
        plain = MODELS.build(plain_cfg.model)
        algo = MODELS.build(distill_cfg.model)
    load_checkpoint(plain, str(exported), map_location='cpu', strict=True)
    load_checkpoint(algo, str(ckpt), map_location='cpu')
    plain.eval()
    algo.eval()
    x = torch.randn(1, 3, 128, 128)
    with torch.no_grad():
        for a, b in zip(algo.student.extract_feat(x), plain.extract_feat(x)):
            torch.testing.assert_close(a, b)
