"""code_version / changed_since / reuse_warning on a throwaway git checkout, and the main job's
runs recording the code they first started from and warning when a reused run's code changed."""
import json
import shutil
import subprocess

import pytest

from mmreviewkd.experiments import code_version as code_version_module
from mmreviewkd.experiments import main_job_runs
from mmreviewkd.experiments.code_version import (changed_since, code_version, is_training_file,
                                                 reuse_warning, started_version)

pytestmark = pytest.mark.skipif(shutil.which('git') is None, reason='needs git')


def _git(root, *args):
    subprocess.run(['git', '-c', 'user.name=t', '-c', 'user.email=t@t', '-c',
                    'commit.gpgsign=false', *args], cwd=root, check=True, capture_output=True)


@pytest.fixture
def checkout(tmp_path):
    for rel in ('mmreviewkd/algo.py', 'mmreviewkd/experiments/report.py', 'configs/a.py',
                'configs/README.md', 'tools/train.py', 'docs/x.md'):
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text('v1\n')
    _git(tmp_path, 'init', '-q')
    _git(tmp_path, 'add', '.')
    _git(tmp_path, 'commit', '-q', '-m', 'v1')
    return tmp_path


def test_training_files_are_the_package_modules_the_python_configs_and_train_test():
    assert is_training_file('mmreviewkd/models/connectors/abf.py')
    assert is_training_file('configs/reviewkd/reviewkd_resnet56_resnet20_cifar100.py')
    assert is_training_file('tools/train.py') and is_training_file('tools/test.py')
    for path in ('mmreviewkd/experiments/main_job.py', 'configs/reviewkd/README.md',
                 'configs/reviewkd/metafile.yml', 'docs/usage.md', 'tools/fmnist_benchmark.py'):
        assert not is_training_file(path), path


def test_code_version_is_the_commit_and_dirty_only_for_training_files(checkout):
    version = code_version(str(checkout))
    assert len(version['commit']) == 40 and version['dirty'] is False
    for rel in ('docs/x.md', 'configs/README.md', 'mmreviewkd/experiments/report.py'):
        (checkout / rel).write_text('v2\n')
    assert code_version(str(checkout))['dirty'] is False
    (checkout / 'mmreviewkd/new.py').write_text('v1\n')  # untracked
    assert code_version(str(checkout))['dirty'] is True


def test_changed_since_lists_training_files_committed_edited_or_new(checkout):
    version = code_version(str(checkout))
    assert changed_since(version, str(checkout)) == []
    (checkout / 'configs/README.md').write_text('v2\n')  # not training code
    (checkout / 'configs/a.py').write_text('v2\n')
    _git(checkout, 'commit', '-qam', 'v2')
    (checkout / 'tools/train.py').write_text('v2\n')  # uncommitted
    (checkout / 'mmreviewkd/new.py').write_text('v1\n')  # untracked
    assert changed_since(version, str(checkout)) == [
        'configs/a.py', 'mmreviewkd/new.py', 'tools/train.py']


def test_changed_since_cannot_tell_for_dirty_resumed_or_unknown_records(checkout):
    version = code_version(str(checkout))
    assert changed_since(dict(version, dirty=True), str(checkout)) is None
    assert changed_since(dict(version, resumed_at=dict(commit='1' * 40, dirty=False)),
                         str(checkout)) is None
    assert changed_since(dict(commit='0' * 40, dirty=False), str(checkout)) is None
    assert changed_since(None, str(checkout)) is None


def test_a_resumed_run_keeps_the_code_it_started_from_and_marks_other_code():
    a, b = dict(commit='a' * 40, dirty=False), dict(commit='b' * 40, dirty=False)
    assert started_version(a, a) == a
    assert started_version(a, b) == dict(a, resumed_at=b)
    assert started_version(None, b) == b and started_version(a, None) == a


def test_reuse_warning_names_the_changes_and_is_silent_for_the_same_code(checkout):
    version = code_version(str(checkout))
    assert reuse_warning(dict(code=version), 'The run', str(checkout)) is None
    (checkout / 'configs/a.py').write_text('v2\n')
    warning = reuse_warning(dict(code=version), 'The run', str(checkout))
    assert 'configs/a.py' in warning and version['commit'][:10] in warning
    assert 'another --work-dir' in warning
    assert 'does not record' in reuse_warning({}, 'The run', str(checkout))
    assert 'outside a git checkout' in reuse_warning(dict(code=None), 'The run', str(checkout))
    assert 'uncommitted' in reuse_warning(dict(code=dict(version, dirty=True)), 'The run',
                                          str(checkout))
    resumed = dict(version, resumed_at=dict(commit='1' * 40, dirty=False))
    assert 'resumed at 1111111111' in reuse_warning(dict(code=resumed), 'The run',
                                                   str(checkout))


def test_outside_a_checkout_or_inside_another_repository_nothing_is_known(
        tmp_path_factory, checkout):
    plain = tmp_path_factory.mktemp('plain')
    assert code_version(str(plain)) is None
    assert reuse_warning({}, 'The run', str(plain)) is None
    # e.g. a wheel's mmreviewkd/.mim installed in a virtualenv inside some other repository
    assert code_version(str(checkout / 'mmreviewkd')) is None


def test_the_main_job_records_the_code_a_run_started_from_and_warns_on_reuse(
        tmp_path, monkeypatch, capsys):
    versions = iter([dict(commit='a' * 40, dirty=False), dict(commit='b' * 40, dirty=False)])
    monkeypatch.setattr(code_version_module, 'code_version', lambda: next(versions))

    def cut(*args, **kwargs):  # the first attempt is interrupted
        raise KeyboardInterrupt
    monkeypatch.setattr(main_job_runs, 'train', cut)
    with pytest.raises(KeyboardInterrupt):
        main_job_runs._reuse_or_train('student', 'student', 'cfg.py', str(tmp_path), ['a=1'], 1)
    monkeypatch.setattr(main_job_runs, 'train', lambda *args, **kwargs: 0.5)
    trained = main_job_runs._reuse_or_train('student', 'student', 'cfg.py', str(tmp_path),
                                            ['a=1'], 1)
    record = json.loads((tmp_path / 'train_done.json').read_text())
    assert record['code'] == dict(commit='a' * 40, dirty=False,
                                  resumed_at=dict(commit='b' * 40, dirty=False))
    assert trained == dict(train_minutes=0.5, code=record['code'], code_warning=None)

    monkeypatch.setattr(main_job_runs, 'reuse_warning',
                        lambda rec, what: f'{what}: {rec["code"]["commit"][:3]}')
    again = main_job_runs._reuse_or_train('student', 'student', 'cfg.py', str(tmp_path),
                                          ['a=1'], 1)
    assert again['code_warning'] == f'The trained student in {tmp_path}: aaa'
    assert f'WARNING: The trained student in {tmp_path}: aaa' in capsys.readouterr().out
