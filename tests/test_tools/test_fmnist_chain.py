"""End to end through tools/train.py, tools/test.py and the exporter on real Fashion-MNIST,
cut to a few hundred images and one epoch with --cfg-options."""
import json
import os.path as osp
import re

import pytest
import torch

from mmreviewkd.experiments.paths import project_root

ROOT = project_root()
CFG = osp.join(ROOT, 'configs', 'fashion_mnist')


def tiny(epochs=1, teacher_depth=None):
    opts = [
        f'train_cfg.max_epochs={epochs}', f'param_scheduler.1.end={max(epochs, 2)}',
        'train_dataloader.dataset.indices=256', 'val_dataloader.dataset.indices=128',
        'test_dataloader.dataset.indices=128', 'train_dataloader.batch_size=64',
        'train_dataloader.num_workers=0', 'train_dataloader.persistent_workers=False',
        'val_dataloader.num_workers=0', 'val_dataloader.persistent_workers=False',
        'test_dataloader.num_workers=0', 'test_dataloader.persistent_workers=False',
        'default_hooks.logger.interval=1',
    ]
    if teacher_depth:
        opts.append(f'model.teacher.backbone.depth={teacher_depth}')
    return opts


def distilled_and_plain(distill_cfg_file, ckpt, plain_cfg_file, student_ckpt):
    """The distillation model of ``ckpt`` (teacher shrunk to depth 8, as the tiny runs train
    it) and the plain student of ``plain_cfg_file`` loaded strictly from the exported
    ``student_ckpt``, both in eval mode."""
    from mmengine.config import Config
    from mmengine.registry import DefaultScope
    from mmengine.runner import load_checkpoint

    from mmreviewkd.registry import MODELS
    distill_cfg = Config.fromfile(distill_cfg_file)
    distill_cfg.merge_from_dict(dict(model=dict(teacher=dict(backbone=dict(depth=8)),
                                                teacher_ckpt=None)))
    with DefaultScope.overwrite_default_scope('mmreviewkd'):
        algo = MODELS.build(distill_cfg.model)
        plain = MODELS.build(Config.fromfile(plain_cfg_file).model)
    load_checkpoint(algo, str(ckpt), map_location='cpu')
    load_checkpoint(plain, str(student_ckpt), map_location='cpu', strict=True)
    return algo.eval(), plain.eval()


@pytest.fixture(scope='module')
def teacher_ckpt(tmp_path_factory, fmnist_root, tool):
    work = tmp_path_factory.mktemp('teacher')
    tool('tools/train.py', osp.join(CFG, 'resnet56_fmnist.py'), '--work-dir', str(work),
         '--cfg-options', *tiny(), 'model.backbone.depth=8')
    ckpt = osp.join(work, 'epoch_1.pth')
    assert osp.isfile(ckpt)
    out = osp.join(work, 'teacher.pth')
    tool('tools/model_converters/export_student.py', ckpt, out, '--prefix', '')
    return out


def test_kd_train_and_test(tmp_path, teacher_ckpt, tool):
    """KD end to end (resuming is covered exactly by test_reliability.py::test_exact_resume)."""
    cfg = osp.join(CFG, 'kd_resnet56_resnet20_fmnist.py')
    opts = tiny(teacher_depth=8) + [f'model.teacher_ckpt={teacher_ckpt}']
    log = tool('tools/train.py', cfg, '--work-dir', str(tmp_path), '--cfg-options', *opts)
    assert 'distill.loss_kl' in log and 'accuracy/top1' in log
    assert osp.isfile(tmp_path / 'epoch_1.pth')

    # test the checkpoint: accuracy printed and written, predictions dumped
    metrics = tmp_path / 'metrics.json'
    log = tool('tools/test.py', cfg, str(tmp_path / 'epoch_1.pth'), '--work-dir',
               str(tmp_path / 'test'), '--metrics-out', str(metrics), '--out',
               str(tmp_path / 'preds.pkl'), '--cfg-options', *opts)
    assert 'accuracy/top1' in log
    top1 = json.loads(metrics.read_text())['accuracy/top1']
    assert 0.0 <= top1 <= 100.0
    assert osp.isfile(tmp_path / 'preds.pkl')


def test_reviewkd_train_export_and_plain_student_predicts_identically(tmp_path, teacher_ckpt,
                                                                      tool):
    cfg = osp.join(CFG, 'reviewkd_resnet56_resnet20_fmnist.py')
    opts = tiny(teacher_depth=8) + [f'model.teacher_ckpt={teacher_ckpt}']
    log = tool('tools/train.py', cfg, '--work-dir', str(tmp_path), '--cfg-options', *opts)
    assert 'distill.loss_hcl' in log
    ckpt = tmp_path / 'epoch_1.pth'
    student_ckpt = tmp_path / 'student.pth'
    tool('tools/model_converters/export_student.py', str(ckpt), str(student_ckpt))
    exported = torch.load(student_ckpt, weights_only=True)['state_dict']
    assert not any(k.startswith(('teacher', 'distiller', 'connectors')) or 'abfs' in k
                   for k in exported)

    algo, plain = distilled_and_plain(cfg, ckpt, osp.join(CFG, 'resnet20_fmnist.py'),
                                      student_ckpt)
    x = torch.randn(8, 1, 28, 28)
    with torch.no_grad():
        torch.testing.assert_close(algo(x, mode='tensor'), plain(x, mode='tensor'))

    # the plain student's config evaluates the distillation checkpoint's student, exactly as
    # it evaluates the exported student (not a randomly initialised network)
    plain_cfg_file = osp.join(CFG, 'resnet20_fmnist.py')
    top1, logs = {}, {}
    for name, path in (('distill', ckpt), ('exported', student_ckpt)):
        metrics = tmp_path / f'{name}.json'
        logs[name] = tool('tools/test.py', plain_cfg_file, str(path), '--work-dir',
                          str(tmp_path / f'test_{name}'), '--metrics-out', str(metrics),
                          '--cfg-options', *tiny())
        top1[name] = json.loads(metrics.read_text())['accuracy/top1']
    assert 'its student (`architecture.*`) is used' in logs['distill']
    assert top1['distill'] == top1['exported']


def test_student_with_amp_on_cpu_and_test_with_show_dir(tmp_path, fmnist_root, tool):
    cfg = osp.join(CFG, 'resnet20_fmnist.py')
    opts = tiny() + ['model.backbone.depth=8']
    log = tool('tools/train.py', cfg, '--amp', '--work-dir', str(tmp_path), '--cfg-options',
               *opts)
    assert 'CPUAmpOptimWrapper' in log or 'bfloat16' in log
    losses = [float(v) for v in re.findall(r'\sloss: ([0-9.naif]+)', log)]
    assert losses and all(v == v and v < 1e3 for v in losses)  # finite
    show = tmp_path / 'show'
    log = tool('tools/test.py', cfg, str(tmp_path / 'epoch_1.pth'), '--show-dir', str(show),
               '--cfg-options', *opts, 'test_dataloader.dataset.indices=4')
    assert 'accuracy/top1' in log
    assert len(list(show.rglob('*.png'))) == 4


def test_tskd_train_test_and_export(tmp_path, teacher_ckpt, tool):
    from mmreviewkd.apis.export import export_student
    cfg = osp.join(ROOT, 'configs', 'tskd', 'tskd_resnet56_resnet20_fmnist.py')
    opts = tiny(teacher_depth=8) + [f'model.teacher_ckpt={teacher_ckpt}']
    log = tool('tools/train.py', cfg, '--work-dir', str(tmp_path), '--cfg-options', *opts)
    assert 'tskd.loss_sd_exit1' in log and 'tskd.loss_kd_exit3' in log
    ckpt = tmp_path / 'epoch_1.pth'
    log = tool('tools/test.py', cfg, str(ckpt), '--work-dir', str(tmp_path / 'test'),
               '--cfg-options', *opts)
    for key in ('exit1/top1', 'exit2/top1', 'exit3/top1', 'ensemble/top1'):
        assert f'multi-exit/{key}' in log, key

    student_ckpt = tmp_path / 'student.pth'
    export_student(str(ckpt), str(student_ckpt))  # the CLI is run by the tests above
    algo, plain = distilled_and_plain(
        cfg, ckpt, osp.join(ROOT, 'configs', 'tskd', 'multiexit_resnet20_fmnist.py'),
        student_ckpt)
    x = torch.randn(6, 1, 28, 28)
    with torch.no_grad():
        a = algo(x, mode='predict')
        b = plain(x, mode='predict')
    torch.testing.assert_close(torch.stack([s.pred_score for s in a]),
                               torch.stack([s.pred_score for s in b]))
    torch.testing.assert_close(torch.stack([s.exit_scores for s in a]),
                               torch.stack([s.exit_scores for s in b]))
    # early-exit sweep: threshold 0 answers with exit 1, > 1 with the vote of all exits
    log = tool('tools/analysis_tools/early_exit_sweep.py', cfg, str(ckpt), '--thresholds', '0',
               '1.01', '--out-dir', str(tmp_path / 'sweep'), '--cfg-options', *opts)
    res = json.loads((tmp_path / 'sweep' / 'early_exit.json').read_text())
    first, never = res['sweep']
    assert first['exit_share'][0] == 100.0 and never['exit_share'][-1] == 100.0
    assert first['top1'] == pytest.approx(res['exit_top1'][0])
    assert first['gmacs'] < never['gmacs']
    assert (tmp_path / 'sweep' / 'early_exit.png').is_file()
