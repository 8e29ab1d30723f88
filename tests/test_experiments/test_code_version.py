"""code_version / changed_since / reuse_warning on a throwaway git checkout, and the main job's
reuse of a trained run naming the training code that changed since."""
import json
import subprocess

import pytest

from mmreviewkd.experiments import main_job_runs
from mmreviewkd.experiments.code_version import changed_since, code_version, reuse_warning


def _git(root, *args):
    subprocess.run(['git', '-c', 'user.name=t', '-c', 'user.email=t@t', *args], cwd=root,
                   check=True, capture_output=True)


@pytest.fixture
def checkout(tmp_path):
    for rel in ('mmreviewkd/algo.py', 'configs/a.py', 'tools/train.py', 'docs/x.md'):
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text('v1\n')
    _git(tmp_path, 'init', '-q')
    _git(tmp_path, 'add', '.')
    _git(tmp_path, 'commit', '-q', '-m', 'v1')
    return tmp_path


def test_code_version_is_the_commit_and_dirty_only_for_training_paths(checkout):
    version = code_version(str(checkout))
    assert len(version['commit']) == 40 and version['dirty'] is False
    (checkout / 'docs/x.md').write_text('v2\n')
    assert code_version(str(checkout))['dirty'] is False
    (checkout / 'mmreviewkd/algo.py').write_text('v2\n')
    assert code_version(str(checkout))['dirty'] is True


def test_changed_since_lists_training_files_committed_edited_or_new(checkout):
    version = code_version(str(checkout))
    assert changed_since(version, str(checkout)) == []
    (checkout / 'docs/x.md').write_text('v2\n')  # not training code
    (checkout / 'configs/a.py').write_text('v2\n')
    _git(checkout, 'commit', '-qam', 'v2')
    (checkout / 'tools/train.py').write_text('v2\n')  # uncommitted
    (checkout / 'mmreviewkd/new.py').write_text('v1\n')  # untracked
    assert changed_since(version, str(checkout)) == [
        'configs/a.py', 'mmreviewkd/new.py', 'tools/train.py']


def test_changed_since_cannot_tell_for_a_dirty_record_or_an_unknown_commit(checkout):
    assert changed_since(dict(commit=code_version(str(checkout))['commit'], dirty=True),
                         str(checkout)) is None
    assert changed_since(dict(commit='0' * 40, dirty=False), str(checkout)) is None
    assert changed_since(None, str(checkout)) is None


def test_reuse_warning_names_the_changes_and_is_silent_for_the_same_code(checkout):
    version = code_version(str(checkout))
    assert reuse_warning(version, 'The run', str(checkout)) is None
    (checkout / 'configs/a.py').write_text('v2\n')
    warning = reuse_warning(version, 'The run', str(checkout))
    assert 'configs/a.py' in warning and version['commit'][:10] in warning
    assert 'another --work-dir' in warning
    assert 'does not record' in reuse_warning(None, 'The run', str(checkout))
    assert 'uncommitted' in reuse_warning(dict(version, dirty=True), 'The run', str(checkout))


def test_outside_a_git_checkout_nothing_is_known(tmp_path):
    assert code_version(str(tmp_path)) is None
    assert reuse_warning(None, 'The run', str(tmp_path)) is None


def test_the_main_job_records_the_code_and_warns_when_reusing_a_run_without_it(
        tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(main_job_runs, 'train', lambda *args, **kwargs: 0.5)
    monkeypatch.setattr(main_job_runs, 'code_version',
                        lambda: dict(commit='c' * 40, dirty=False))
    main_job_runs._reuse_or_train('student', 'student', 'cfg.py', str(tmp_path), ['a=1'], 1)
    record = json.loads((tmp_path / 'train_done.json').read_text())
    assert record['code'] == dict(commit='c' * 40, dirty=False)

    record.pop('code')  # a run trained before runs recorded their code
    (tmp_path / 'train_done.json').write_text(json.dumps(record))
    monkeypatch.setattr(main_job_runs, 'reuse_warning',
                        lambda version, what: None if version else f'{what}: no record')
    assert main_job_runs._reuse_or_train('student', 'student', 'cfg.py', str(tmp_path),
                                         ['a=1'], 1) == 0.5
    assert f'WARNING: The trained student in {tmp_path}: no record' in capsys.readouterr().out
