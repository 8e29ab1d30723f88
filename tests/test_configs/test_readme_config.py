"""The README's "use it in your own project" config works as printed, from MMPretrain's scope."""
import os.path as osp
import re

import torch

from mmreviewkd.experiments.paths import project_root

ROOT = project_root()


def test_readme_own_project_config_builds_in_mmpretrain_scope_and_steps(tmp_path):
    from mmengine.config import Config
    from mmengine.registry import DefaultScope
    from mmengine.utils import import_modules_from_strings
    from mmpretrain.registry import HOOKS, MODELS
    from mmpretrain.structures import DataSample

    with open(osp.join(ROOT, 'README.md')) as f:
        readme = f.read()
    block = re.search(r'```python\n(_base_ = \[\n    .mmpretrain::.*?)```', readme, re.S).group(1)
    path = tmp_path / 'own_project.py'
    path.write_text(block.replace("teacher_ckpt='resnet50_imagenet.pth'", 'teacher_ckpt=None'))
    cfg = Config.fromfile(str(path))
    import_modules_from_strings(**cfg.custom_imports)
    with DefaultScope.overwrite_default_scope('mmpretrain'):  # a downstream project's scope
        model = MODELS.build(cfg.model)
        HOOKS.build(cfg.custom_hooks[0])
    samples = [DataSample().set_gt_label(1), DataSample().set_gt_label(2)]
    data = model.data_preprocessor(
        dict(inputs=[torch.randint(0, 256, (3, 224, 224), dtype=torch.uint8)] * 2,
             data_samples=samples), True)
    losses = model.loss(data['inputs'], data['data_samples'])
    assert set(losses) == {'student.loss', 'distill.loss_hcl'}
    assert all(torch.isfinite(v) for v in losses.values())
