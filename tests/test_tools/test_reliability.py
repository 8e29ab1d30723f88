"""Reliability: data-path errors, atomic checkpoints, exact resume, 2-process training."""
import os
import os.path as osp
import re
import subprocess
import sys

import pytest
import torch

from mmreviewkd.apis import build_runner_config

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
FMNIST_CFG = osp.join(ROOT, 'configs', 'fashion_mnist')


def test_missing_dataset_path_names_the_key(tmp_path):
    cfg = osp.join(FMNIST_CFG, 'resnet20_fmnist.py')
    opts = {'train_dataloader.dataset.data_root': str(tmp_path / 'nowhere'),
            'train_dataloader.dataset.download': False}
    with pytest.raises(FileNotFoundError, match=r'train_dataloader.dataset.data_root'):
        build_runner_config(cfg, cfg_options=opts)
    opts = {'test_dataloader.dataset.data_root': str(tmp_path / 'nowhere'),
            'test_dataloader.dataset.download': False}
    with pytest.raises(FileNotFoundError, match=r'test_dataloader.dataset.data_root'):
        build_runner_config(cfg, cfg_options=opts, for_test=True)


def test_interrupted_save_leaves_no_partial_checkpoint(tmp_path, monkeypatch):
    from mmengine.runner import checkpoint as ckpt_mod
    path = str(tmp_path / 'epoch_1.pth')
    ckpt_mod.save_checkpoint(dict(state_dict=dict(w=torch.ones(3))), path)
    good = torch.load(path, weights_only=True)

    real_save = torch.save

    def interrupted(obj, f, *args, **kwargs):
        f.write(b'partial bytes')
        raise KeyboardInterrupt('killed while saving')

    monkeypatch.setattr(torch, 'save', interrupted)
    with pytest.raises(KeyboardInterrupt):
        ckpt_mod.save_checkpoint(dict(state_dict=dict(w=torch.zeros(3))), path)
    monkeypatch.setattr(torch, 'save', real_save)
    # the previous complete file is untouched and no temporary file is left behind
    torch.testing.assert_close(torch.load(path, weights_only=True)['state_dict']['w'],
                               good['state_dict']['w'])
    assert os.listdir(tmp_path) == ['epoch_1.pth']


def _opts(work_dir_teacher=None):
    opts = [
        'train_dataloader.dataset.indices=96', 'val_dataloader.dataset.indices=32',
        'test_dataloader.dataset.indices=32', 'train_dataloader.batch_size=16',
        'train_dataloader.num_workers=1', 'train_dataloader.persistent_workers=False',
        'val_dataloader.num_workers=0', 'val_dataloader.persistent_workers=False',
        'model.teacher.backbone.depth=8', 'model.architecture.backbone.depth=8',
        'randomness.seed=3', 'randomness.deterministic=True', 'default_hooks.logger.interval=1',
        'param_scheduler.1.end=2',
    ]
    return opts


def _train(cfg, work_dir, *extra):
    proc = subprocess.run([sys.executable, 'tools/train.py', cfg, '--work-dir', str(work_dir),
                           *extra], cwd=ROOT, capture_output=True, text=True)
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-4000:]
    return proc.stdout + proc.stderr


@pytest.mark.parametrize('cfg_name', [
    'fashion_mnist/reviewkd_resnet56_resnet20_fmnist.py',
    'tskd/tskd_resnet56_resnet20_fmnist.py',
])
def test_exact_resume(tmp_path, fmnist_root, cfg_name):
    cfg = osp.join(ROOT, 'configs', cfg_name)
    opts = _opts() + ['model.teacher_ckpt=None']
    _train(cfg, tmp_path / 'straight', '--cfg-options', *opts, 'train_cfg.max_epochs=2')
    _train(cfg, tmp_path / 'resumed', '--cfg-options', *opts, 'train_cfg.max_epochs=1')
    log = _train(cfg, tmp_path / 'resumed', '--resume', '--cfg-options', *opts,
                 'train_cfg.max_epochs=2')
    assert re.search(r'Epoch\(train\)\s+\[2\]', log)
    a = torch.load(tmp_path / 'straight' / 'epoch_2.pth', weights_only=True)
    b = torch.load(tmp_path / 'resumed' / 'epoch_2.pth', weights_only=True)
    assert a['state_dict'].keys() == b['state_dict'].keys()
    assert any(k.startswith('distiller.') or '.exits.' in k for k in a['state_dict'])
    for k in a['state_dict']:
        torch.testing.assert_close(a['state_dict'][k], b['state_dict'][k], rtol=1e-5, atol=1e-6,
                                   msg=k)
    for sa, sb in zip(a['optimizer']['state'].values(), b['optimizer']['state'].values()):
        torch.testing.assert_close(sa['momentum_buffer'], sb['momentum_buffer'], rtol=1e-5,
                                   atol=1e-6)


@pytest.mark.parametrize('cfg_name,loss_key', [
    ('fashion_mnist/reviewkd_resnet56_resnet20_fmnist.py', 'distill.loss_hcl'),
    ('tskd/tskd_resnet56_resnet20_fmnist.py', 'tskd.loss_sd_exit1'),
])
def test_two_process_training_matches_single_process(tmp_path, fmnist_root, cfg_name, loss_key):
    cfg = osp.join(ROOT, 'configs', cfg_name)
    opts = _opts() + ['model.teacher_ckpt=None', 'train_cfg.max_epochs=1',
                      'train_dataloader.num_workers=0']
    single = _train(cfg, tmp_path / 'single', '--cfg-options', *opts)
    env = dict(os.environ, PYTHON=sys.executable, PORT='29611')
    proc = subprocess.run(['bash', 'tools/dist_train.sh', cfg, '2', '--work-dir',
                           str(tmp_path / 'ddp'), '--cfg-options', *opts], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=600)
    log = proc.stdout + proc.stderr
    assert proc.returncode == 0, log[-4000:]
    # 96 images at batch 16: 6 iterations alone, 3 per process with 2 processes (each process
    # sees half of the epoch, so every image is seen once per epoch in both cases)
    assert re.search(r'Epoch\(train\)\s+\[1\]\[6/6\]', single)
    assert re.search(r'Epoch\(train\)\s+\[1\]\[3/3\]', log)
    assert 'Distributed training: True' in log and 'GPU number: 2' in log
    losses = [float(v) for v in re.findall(re.escape(loss_key) + r': ([-0-9.e+naif]+)', log)]
    assert losses and all(v == v and abs(v) < 1e6 for v in losses)
    ckpt = torch.load(tmp_path / 'ddp' / 'epoch_1.pth', weights_only=True)
    assert any(k.startswith('architecture.') for k in ckpt['state_dict'])
