"""The main job's helpers: progress lines from MMEngine logs and the thread choice."""
import importlib.util
import os.path as osp

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


def load_main_job():
    spec = importlib.util.spec_from_file_location(
        '_fmnist_main_job', osp.join(ROOT, 'tools', 'fmnist_main_job.py'))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_progress_line_reads_the_latest_mmengine_line_with_its_eta():
    job = load_main_job()
    log = ('12/01 02:30:01 - mmengine - INFO - Epoch(train) [1][ 20/188]  lr: 1e-2  eta: 0:06:00'
           '  time: 0.3\n'
           '12/01 02:30:07 - mmengine - INFO - Epoch(train) [2][ 40/188]  lr: 1e-2  eta: 0:05:21'
           '  time: 0.3\n'
           'some other line\n')
    assert job.progress_line(log) == 'train epoch 2, iter 40/188, eta 0:05:21'
    assert job.progress_line('no progress yet') is None


def test_explicit_threads_win_and_an_idle_machine_keeps_the_default(monkeypatch):
    job = load_main_job()
    assert job.choose_threads(3) == 3
    monkeypatch.setattr(job, 'busy_cores', lambda: 0.1)
    assert job.choose_threads(None) is None
    monkeypatch.setattr(job, 'busy_cores', lambda: 1.0)
    assert job.choose_threads(None) == 1
