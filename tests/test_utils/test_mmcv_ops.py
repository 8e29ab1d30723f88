"""Without mmcv's compiled ops (the mmcv-lite stack): classification works, detection is refused
at build time with one error that names the setup option."""
import os.path as osp
import subprocess
import sys

import pytest
import torch

from mmreviewkd.apis import build_runner_config
from mmreviewkd.experiments.paths import project_root
from mmreviewkd.utils import MMCVOpsMissingError, mmcv_ops_available

ROOT = project_root()
DET_CFG = osp.join(ROOT, 'configs', 'reviewkd_det', 'fmnist_coco',
                   'reviewkd_faster-rcnn_r50_r18_fpn_fmnistcoco.py')
CLS_CFG = osp.join(ROOT, 'configs', 'fashion_mnist', 'reviewkd_resnet56_resnet20_fmnist.py')
# Python that makes the compiled ops unimportable, as on an mmcv-lite install.
BLOCK_OPS = "import sys; sys.modules['mmcv._ext'] = None; "


@pytest.fixture
def no_mmcv_ops(monkeypatch):
    monkeypatch.setitem(sys.modules, 'mmcv._ext', None)
    assert not mmcv_ops_available()


def test_detection_config_without_ops_fails_at_build_naming_the_setup_option(no_mmcv_ops):
    with pytest.raises(MMCVOpsMissingError, match=r'setup_env\.sh --with-ops') as err:
        build_runner_config(DET_CFG, cfg_options={'train_dataloader.dataset.data_root': ROOT})
    assert '`model.architecture`' in str(err.value) or '`default_scope`' in str(err.value)


def test_type_prefix_alone_marks_a_detection_model(no_mmcv_ops):
    from mmreviewkd.utils import check_mmcv_ops_for_config
    cfg = dict(model=dict(type='mmreviewkd.ReviewKDDistill',
                          teacher=dict(type='mmdet.RetinaNet')))
    with pytest.raises(MMCVOpsMissingError, match=r'`model.teacher`'):
        check_mmcv_ops_for_config(cfg)


def test_classification_config_builds_without_ops(no_mmcv_ops, fmnist_root):
    cfg = build_runner_config(CLS_CFG)
    assert cfg.model.type == 'ReviewKDDistill'


def test_classification_trains_without_mmcv_ops_to_the_same_weights(tmp_path, fmnist_root):
    """A tiny ReviewKD epoch trains and validates with ``mmcv._ext`` unimportable (the
    mmcv-lite stack), and ends with the same weights as with the ops."""
    ckpts = {}
    for name, prelude in (('lite', BLOCK_OPS), ('ops', 'import sys; ')):
        work = tmp_path / name
        argv = [
            'tools/train.py', CLS_CFG, '--work-dir', str(work), '--cfg-options',
            'model.teacher_ckpt=None', 'model.teacher.backbone.depth=8',
            'model.architecture.backbone.depth=8', 'train_dataloader.dataset.indices=16',
            'val_dataloader.dataset.indices=16', 'train_dataloader.batch_size=8',
            'train_dataloader.num_workers=0', 'train_dataloader.persistent_workers=False',
            'val_dataloader.num_workers=0', 'val_dataloader.persistent_workers=False',
            'train_cfg.max_epochs=1', 'param_scheduler.1.end=2', 'randomness.seed=0',
            'randomness.deterministic=True']
        code = (prelude + f'sys.argv = {argv!r}; import runpy; '
                "runpy.run_path('tools/train.py', run_name='__main__')")
        proc = subprocess.run([sys.executable, '-c', code], cwd=ROOT, capture_output=True,
                              text=True)
        out = proc.stdout + proc.stderr
        assert proc.returncode == 0, out[-3000:]
        assert 'Epoch(val) [1][' in out and 'accuracy/top1' in out
        ckpts[name] = torch.load(work / 'epoch_1.pth', weights_only=True)['state_dict']
    assert ckpts['lite'].keys() == ckpts['ops'].keys()
    for k, v in ckpts['ops'].items():
        assert torch.equal(ckpts['lite'][k], v), k


def test_building_a_detection_distiller_in_python_without_ops_names_the_fix(no_mmcv_ops):
    from mmengine.registry import DefaultScope

    from mmreviewkd.registry import MODELS
    cfg = dict(type='ReviewKDDistill',
               architecture=dict(_scope_='mmdet', type='RetinaNet'),
               teacher=dict(_scope_='mmdet', type='RetinaNet'))
    with DefaultScope.overwrite_default_scope('mmreviewkd'):
        with pytest.raises(MMCVOpsMissingError, match=r'`model.architecture`.*--with-ops'):
            MODELS.build(cfg)
