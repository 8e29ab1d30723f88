"""The main job (mmreviewkd.experiments): progress, ETA, threads, the validation split, reuse of
runs and evaluations, the table."""
import json
import os.path as osp
import sys

import pytest

from mmreviewkd.experiments import machine, main_job, main_job_runs, main_job_table, progress
from mmreviewkd.experiments.fmnist_recipe import TRAIN_PART, eval_options, train_options
from mmreviewkd.experiments.paths import project_root

ROOT = project_root()


def test_progress_line_reads_the_latest_mmengine_line_with_its_eta():
    log = ('12/01 02:30:01 - mmengine - INFO - Epoch(train) [1][ 20/188]  lr: 1e-2  eta: 0:06:00'
           '  time: 0.3\n'
           '12/01 02:30:07 - mmengine - INFO - Epoch(train) [2][ 40/188]  lr: 1e-2  eta: 0:05:21'
           '  time: 0.3\n'
           'some other line\n')
    assert progress.progress_line(log) == 'train epoch 2, iter 40/188, eta 0:05:21'
    assert progress.progress_line('no progress yet') is None


def test_explicit_threads_win_and_an_idle_machine_keeps_the_default(monkeypatch):
    assert machine.choose_threads(3) == 3
    monkeypatch.setattr(machine, 'busy_cores', lambda: 0.1)
    assert machine.choose_threads(None) is None
    monkeypatch.setattr(machine, 'busy_cores', lambda: 1.0)
    assert machine.choose_threads(None) == 1


def options_to_dict(options):
    """``--cfg-options`` strings parsed as tools/train.py parses them."""
    import argparse

    from mmengine.config import DictAction
    parser = argparse.ArgumentParser()
    parser.add_argument('--cfg-options', nargs='+', action=DictAction)
    return parser.parse_args(['--cfg-options', *options]).cfg_options


def build_split(options, loader, fmnist_root):
    from mmengine.config import Config
    from mmengine.registry import init_default_scope

    from mmreviewkd.registry import DATASETS
    cfg = Config.fromfile(osp.join(ROOT, 'configs', 'fashion_mnist', 'resnet20_fmnist.py'))
    if options:
        cfg.merge_from_dict(options_to_dict(options))
    init_default_scope('mmreviewkd')
    dataset = dict(cfg[loader].dataset, data_root=fmnist_root, pipeline=[])
    return DATASETS.build(dataset)


def test_validation_split_is_the_last_training_images_and_disjoint_from_training(fmnist_root):
    """Training runs see the first images of the training split, validation the last 5000:
    the same images every time, never one image in both."""
    train = build_split(train_options(1, TRAIN_PART, 64, 0), 'train_dataloader',
                        fmnist_root)
    val = build_split(train_options(1, 1000, 64, 0), 'val_dataloader', fmnist_root)
    val_eval = build_split(eval_options('val', None), 'test_dataloader', fmnist_root)
    test = build_split(eval_options('test', None), 'test_dataloader', fmnist_root)
    full = build_split([], 'train_dataloader', fmnist_root)
    assert (len(train), len(val), len(val_eval), len(test), len(full)) == (
        55000, 5000, 5000, 10000, 60000)
    for i in (0, 12345, 54999):  # training = the first 55000 of the training split
        assert (train.get_data_info(i)['img'] == full.get_data_info(i)['img']).all()
    for j in (0, 2500, 4999):  # validation = its last 5000, for training-time val and test.py
        assert (val.get_data_info(j)['img'] == full.get_data_info(55000 + j)['img']).all()
        assert (val_eval.get_data_info(j)['img'] == val.get_data_info(j)['img']).all()
    assert test.split == 'test' and val_eval.split == 'train'
    # MMPretrain's MNIST datasets load the test files when test_mode=True, whatever `split`
    # says: the held-out images must come from the training files
    assert not val.test_mode and not val_eval.test_mode


def test_training_sizes_reaching_into_the_validation_split_are_refused(capsys):
    with pytest.raises(SystemExit):
        main_job.main(['--train-size', '56000'])
    assert 'the last 5000 training images are the validation split' in capsys.readouterr().err


def test_progress_carries_the_running_loss_and_the_job_eta_follows_the_measured_rate(monkeypatch):
    log = ('12/01 04:25:58 - mmengine - INFO - Epoch(train) [1][200/313]  lr: 1.7593e-02  '
           'eta: 0:01:16  time: 0.3440  data_time: 0.0262  loss: 0.7162  student.loss: 0.0616\n')
    p = progress.parse_progress(log)
    assert (p['epoch'], p['iter'], p['total'], p['loss'], p['eta']) == (1, 200, 313, 0.7162,
                                                                        '0:01:16')
    assert progress.progress_line(log) == 'train epoch 1, iter 200/313, loss 0.7162, eta 0:01:16'
    now = [1000.0]
    monkeypatch.setattr(progress.time, 'time', lambda: now[0])
    clock = progress.JobClock({'student': 100.0, 'kd': 300.0})
    clock.start('student')
    now[0] += 60.0  # the student's 100 units took a minute
    clock.finish('student', trained=True)
    assert clock() == '3 min'  # 300 units left at the measured rate
    clock.start('kd')
    now[0] += 120.0
    assert clock(0.4) == '2 min'  # 60 % of kd's 300 units left at 0.6 s per unit
    # before any model finished, the running model's own progress gives the rate
    fresh = progress.JobClock({'teacher': 1000.0, 'student': 500.0})
    fresh.start('teacher')
    now[0] += 300.0
    assert fresh(0.5) == '10 min'  # (500 + 500) units left at 300 s / 500 units


def test_saved_table_renders_with_noise_marks_and_the_protocol_column_only_when_published(
        monkeypatch):
    rows = [dict(key='teacher', name='teacher (ResNet-56)', ref='teacher', top1=87.5, se=0.33,
                 minutes=6.0),
            dict(key='student', name='student alone (ResNet-20)',
                 ref='student alone (ResNet-20)', top1=80.9, se=0.39, minutes=1.4),
            dict(key='kd', name='KD (Hinton)', ref='KD (Hinton)', top1=81.6, se=0.39,
                 diff=0.73, diff_se=0.30, beyond_noise=True, minutes=2.2),
            dict(key='tskd', name='TSKD: deepest exit', ref='TSKD: deepest exit', top1=81.3,
                 se=0.39, diff=0.46, diff_se=0.28, beyond_noise=False, minutes=2.5)]
    saved = dict(settings=dict(epochs=1), table=dict(header='H', split='test', n=10000,
                                                     rows=rows))
    monkeypatch.setattr(main_job_table, 'published_protocol', lambda settings: {})
    text = main_job_table.render_saved_table(saved)
    assert '| KD (Hinton) | 81.60 ± 0.39 | +0.73 ± 0.30 * | 2.2 |' in text
    assert '| TSKD: deepest exit | 81.30 ± 0.39 | +0.46 ± 0.28 (within noise) | 2.5 |' in text
    assert 'published protocol' not in text
    monkeypatch.setattr(main_job_table, 'published_protocol', lambda settings: {
        'KD (Hinton)': dict(mean=81.9, std=0.4, n=5)})
    text = main_job_table.render_saved_table(saved)
    assert 'published protocol (5 seeds)' in text
    assert '| KD (Hinton) | 81.60 ± 0.39 | +0.73 ± 0.30 * | 81.90 ± 0.40 | 2.2 |' in text
    assert '| teacher (ResNet-56) | 87.50 ± 0.33 |  | — | 6.0 |' in text


def test_evaluations_are_reused_only_for_the_same_checkpoint_and_options(tmp_path, monkeypatch):
    """Another test size or other vote weights must evaluate again, not return old numbers."""
    (tmp_path / 'epoch_1.pth').write_text('')
    (tmp_path / 'last_checkpoint').write_text(str(tmp_path / 'epoch_1.pth'))
    calls = []

    def fake_run(cmd, log, **kwargs):
        calls.append(cmd)
        out = cmd[cmd.index('--metrics-out') + 1]
        with open(out, 'w') as f:
            f.write('{"accuracy/top1": %d}' % len(calls))
        open(cmd[cmd.index('--out') + 1], 'w').close()

    monkeypatch.setattr(main_job_runs, 'run', fake_run)
    first = main_job_runs.evaluate('cfg.py', str(tmp_path), 'test', ['a=1'])
    again = main_job_runs.evaluate('cfg.py', str(tmp_path), 'test', ['a=1'])
    other = main_job_runs.evaluate('cfg.py', str(tmp_path), 'test', ['a=2'])
    assert len(calls) == 2
    assert first['accuracy/top1'] == again['accuracy/top1'] == 1
    assert other['accuracy/top1'] == 2


def test_a_trained_run_with_other_settings_is_refused_not_reused(tmp_path):
    (tmp_path / 'train_done.json').write_text(json.dumps(dict(
        train_minutes=1.0, config='configs/fashion_mnist/resnet20_fmnist.py',
        options=['train_cfg.max_epochs=1'])))
    with pytest.raises(RuntimeError, match='trained with other settings'):
        main_job_runs.run_model(
            'student', 'student', osp.join(ROOT, 'configs/fashion_mnist/resnet20_fmnist.py'),
            str(tmp_path), ['train_cfg.max_epochs=2'], 'test', None)


def test_a_running_tool_prints_a_line_every_interval_even_before_training(tmp_path, capsys):
    progress.run_logged([sys.executable, '-c', 'import time; time.sleep(3.5)'],
                        str(tmp_path / 'log'), cwd=str(tmp_path), every=1.0)
    lines = [ln for ln in capsys.readouterr().out.splitlines() if ln.startswith('[main job]')]
    assert len(lines) >= 2 and all('starting' in ln for ln in lines)


def test_review_dtype_reaches_the_review_connector_of_review_methods_only():
    from mmreviewkd.experiments.fmnist_recipe import REVIEW, job_settings
    st = job_settings()
    key = 'model.distiller.connectors.review.compute_dtype'
    assert not any(o.startswith(key) for o in main_job.student_options('reviewkd', st, 't.pth'))
    st['review_dtype'] = 'float32'
    for method in REVIEW:
        assert f'{key}=float32' in main_job.student_options(method, st, 't.pth')
    for method in ('student', 'kd', 'tskd'):
        assert not any(o.startswith(key) for o in main_job.student_options(method, st, 't.pth'))
    # and the configs of the REVIEW methods have that connector
    from mmengine.config import Config

    from mmreviewkd.experiments.fmnist_recipe import METHODS
    for method in REVIEW:
        cfg = Config.fromfile(osp.join(ROOT, 'configs', METHODS[method][1]))
        assert cfg.model.distiller.connectors.review.compute_dtype == 'auto'
