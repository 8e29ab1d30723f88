"""The main job's shipped teacher: what it is, that it loads, and when it is used."""
import hashlib
import json
import os
import os.path as osp

import pytest

from mmreviewkd.experiments import main_job, main_job_runs
from mmreviewkd.experiments.fmnist_recipe import job_settings, train_options
from mmreviewkd.experiments.paths import project_root

TAG = 'e1_n50000_b64_s0'  # the quick default's teacher settings


def test_the_quick_default_has_a_shipped_teacher_matching_its_record():
    path = main_job.shipped_teacher(TAG)
    assert path is not None
    with open(path[:-len('.pth')] + '.json') as f:
        record = json.load(f)
    with open(path, 'rb') as f:
        assert hashlib.sha256(f.read()).hexdigest() == record['sha256']
    assert record['options'] == train_options(1, 50000, 64, 0), 'trained at other settings'
    assert main_job.shipped_teacher('e2_n50000_b64_s0') is None  # other settings: none


def test_shipped_teacher_loads_strictly_into_the_teacher_config():
    import torch
    from mmengine.config import Config
    from mmengine.registry import DefaultScope

    from mmreviewkd.registry import MODELS
    cfg = Config.fromfile(osp.join(project_root(), 'configs', 'fashion_mnist',
                                   'resnet56_fmnist.py'))
    with DefaultScope.overwrite_default_scope('mmreviewkd'):
        model = MODELS.build(cfg.model)
    state = torch.load(main_job.shipped_teacher(TAG), weights_only=True)['state_dict']
    model.load_state_dict(state, strict=True)


@pytest.mark.parametrize('train', [False, True])
def test_the_shipped_teacher_is_evaluated_not_trained_unless_asked(tmp_path, monkeypatch, train):
    calls = []

    def fake_evaluate(config, work_dir, split, options, name=None):
        calls.append(('evaluate', work_dir))
        return {'accuracy/top1': 87.0, 'checkpoint': main_job_runs.last_checkpoint(work_dir)}

    def fake_run_model(key, name, config, work_dir, options, split, test_size, epochs=1):
        calls.append(('train', work_dir))
        (tmp_path / 'trained.pth').write_bytes(b'x')
        with open(osp.join(work_dir, 'last_checkpoint'), 'w') as f:
            f.write(str(tmp_path / 'trained.pth'))
        return {'checkpoint': str(tmp_path / 'trained.pth')}

    monkeypatch.setattr(main_job_runs, 'evaluate', fake_evaluate)
    monkeypatch.setattr(main_job_runs, 'run_model', fake_run_model)

    def fake_export(src, dst, student_prefix):
        os.makedirs(osp.dirname(dst), exist_ok=True)
        open(dst, 'wb').close()

    monkeypatch.setattr('mmreviewkd.apis.export.export_student', fake_export)
    (tmp_path / f'teacher_{TAG}').mkdir()
    metrics = main_job.train_teacher(job_settings(), str(tmp_path), TAG, train=train)
    if train:
        assert calls[0][0] == 'train' and 'shipped' not in metrics
    else:
        assert calls == [('evaluate', str(tmp_path / f'teacher_{TAG}_shipped'))]
        assert metrics['train_minutes'] is None and metrics['shipped'].endswith('.pth')
        with open(metrics['exported'], 'rb') as a, open(main_job.shipped_teacher(TAG), 'rb') as b:
            assert a.read() == b.read()
