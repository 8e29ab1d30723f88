"""Each compatibility fix of mmreviewkd.compat, with a check that the break is real without it."""
import os
import pickle
import subprocess
import sys

import numpy as np
import pytest
import torch

from mmreviewkd import compat


def _run(code: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONWARNINGS='ignore')
    return subprocess.run([sys.executable, '-c', code], capture_output=True, text=True, env=env,
                          cwd='/')


# ------------------------------------------------------------------ 1. quantization placeholder
def test_mmrazor_models_import_and_quantization_fails_clearly():
    assert 'mmrazor_quantization_placeholder' in compat.applied_fixes()
    import mmrazor.models  # noqa: F401
    from mmrazor.structures.quantization import BackendConfigs, get_native_backend_config
    with pytest.raises(compat.QuantizationUnavailableError, match='distillation only'):
        BackendConfigs['native']
    with pytest.raises(compat.QuantizationUnavailableError):
        get_native_backend_config()


def test_without_the_fix_mmrazor_does_not_import():
    proc = _run('import mmrazor.models')
    assert proc.returncode != 0, 'MMRazor imported without the fix: is the fix still needed?'


# ------------------------------------------------------------------ 2. weights-only checkpoints
def _mmengine_like_checkpoint(path):
    from mmengine.logging import MessageHub
    hub = MessageHub.get_instance('compat-test')
    hub.update_scalar('train/loss', 1.5)
    hub.update_scalar('train/lr', np.float64(0.1))
    hub.update_info('epoch', 3)
    torch.save(dict(meta=dict(epoch=3, seed=0), state_dict=dict(w=torch.ones(2)),
                    message_hub=hub.state_dict()), path)


def test_mmengine_checkpoint_loads_weights_only(tmp_path):
    path = str(tmp_path / 'ckpt.pth')
    _mmengine_like_checkpoint(path)
    ckpt = torch.load(path, weights_only=True)
    assert ckpt['meta']['epoch'] == 3
    assert ckpt['message_hub']['log_scalars']['train/loss'].current() == 1.5


def test_without_the_fix_the_checkpoint_is_refused(tmp_path):
    path = str(tmp_path / 'ckpt.pth')
    _mmengine_like_checkpoint(path)
    proc = _run(f'import torch; torch.load({path!r}, weights_only=True)')
    assert proc.returncode != 0 and 'Weights only load failed' in proc.stderr


class _Evil:

    def __reduce__(self):
        return (os.system, ('echo pwned',))


def test_arbitrary_pickled_objects_are_still_refused(tmp_path):
    path = str(tmp_path / 'evil.pth')
    with open(path, 'wb') as f:
        torch.save(dict(state_dict={}, payload=_Evil()), f)
    with pytest.raises(pickle.UnpicklingError):
        torch.load(path, weights_only=True)
    # and MMEngine's loader (used by load_checkpoint / resume) refuses it too
    from mmengine.runner.checkpoint import _load_checkpoint
    with pytest.raises(pickle.UnpicklingError):
        _load_checkpoint(path, map_location='cpu')


# ------------------------------------------------------------------ 3. in-place walk
def _stock_kd(depth=18):
    from mmengine.registry import DefaultScope

    from mmreviewkd.registry import MODELS
    net = dict(_scope_='mmpretrain', type='mmpretrain.ImageClassifier',
               backbone=dict(type='mmpretrain.ResNet', depth=depth),
               neck=dict(type='mmpretrain.GlobalAveragePooling'),
               head=dict(type='mmpretrain.LinearClsHead', num_classes=10, in_channels=512))
    cfg = dict(
        type='mmrazor.SingleTeacherDistill', architecture=net, teacher=net,
        distiller=dict(
            type='ConfigurableDistiller',
            teacher_recorders=dict(pre=dict(type='ModuleInputs', source='backbone.layer1.0.relu'))))
    with DefaultScope.overwrite_default_scope('mmrazor'):
        return MODELS.build(cfg)


def _recorded_preact(algo):
    from mmpretrain.structures import DataSample
    x = torch.randn(2, 3, 64, 64)
    samples = [DataSample().set_gt_label(0), DataSample().set_gt_label(1)]
    with algo.distiller.teacher_recorders:
        algo.teacher(x, samples, mode='loss')
    # the 2nd call of layer1.0.relu gets the block's pre-activation (conv-bn + identity)
    return algo.distiller.teacher_recorders.get_recorder('pre').get_record_data(1)[0]


def test_stock_mmrazor_algorithm_turns_inplace_off_and_keeps_preact():
    algo = _stock_kd()
    assert not any(getattr(m, 'inplace', False) for m in algo.modules())
    assert (_recorded_preact(algo) < 0).any()


def test_without_the_fix_inplace_stays_on_and_preact_is_lost(monkeypatch):
    from mmrazor.models.algorithms.base import BaseAlgorithm
    original = BaseAlgorithm.set_module_inplace_false._original
    monkeypatch.setattr(BaseAlgorithm, 'set_module_inplace_false', original)
    algo = _stock_kd()
    assert any(getattr(m, 'inplace', False) for m in algo.teacher.modules())
    assert not (_recorded_preact(algo) < 0).any()
