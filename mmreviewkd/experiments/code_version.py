"""Which code a run was trained with: the git commit of the checkout and what changed since.

The experiment tools reuse finished runs (an interrupted protocol resumes; a finished one only
rebuilds its report). A run is keyed by its config and options, not by the code: after a change
to the package, a reused run would silently report what the old code trained. Runs therefore
record :func:`code_version` when they first start, and a reuse names the training code that has
changed since (:func:`reuse_warning`), so the user can decide to train again.

Only the files that decide what a run trains count (:func:`is_training_file`): the package's
Python modules except the experiment tools (whose effect on a run, its config and options, is
recorded separately), the Python configs, and ``tools/train.py`` / ``tools/test.py``; docs,
READMEs and result files under ``configs/`` do not. Outside a git checkout of this repository
(e.g. a wheel install, even inside some other git repository) nothing is known and the
functions return None.
"""
import functools
import json
import os
import os.path as osp
import subprocess
from typing import Dict, List, Optional

from .paths import project_root

SEARCHED = ('mmreviewkd', 'configs', 'tools/train.py', 'tools/test.py')


def is_training_file(path: str) -> bool:
    """Whether a repository path decides what a training run computes (see the module
    docstring)."""
    if path in ('tools/train.py', 'tools/test.py'):
        return True
    return path.endswith('.py') and (path.startswith('configs/') or (
        path.startswith('mmreviewkd/') and not path.startswith('mmreviewkd/experiments/')))


def _run_git(root: str, *args: str) -> Optional[str]:
    """``git args`` in ``root`` without the caller's ``GIT_*`` variables (e.g. a hook's
    ``GIT_DIR``) or optional locks; its output, or None when git is missing or fails."""
    env = {k: v for k, v in os.environ.items() if not k.startswith('GIT_')}
    try:
        proc = subprocess.run(['git', '--no-optional-locks', *args], cwd=root, env=env,
                              capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.SubprocessError):
        return None
    return proc.stdout if proc.returncode == 0 else None


@functools.lru_cache(maxsize=None)
def _is_checkout_top(root: str) -> bool:
    """Whether ``root`` is the top of a git checkout (not a folder inside another repository,
    e.g. a wheel's ``mmreviewkd/.mim`` in a virtualenv there); asked once per process."""
    top = _run_git(root, 'rev-parse', '--show-toplevel')
    return top is not None and osp.realpath(top.strip()) == osp.realpath(root)


def _git(*args: str, root: Optional[str] = None) -> Optional[str]:
    """``git args`` in ``root`` (the project root), or None when git is missing, the command
    fails or ``root`` is not the top of a git checkout (:func:`_is_checkout_top`)."""
    try:
        root = root or project_root()
    except OSError:  # no configs/ and tools/ to be found
        return None
    return _run_git(root, *args) if _is_checkout_top(root) else None


def _training_files(listing: Optional[str]) -> Optional[List[str]]:
    """The training files among NUL-separated names (``git ... -z``)."""
    if listing is None:
        return None
    return sorted({p for p in listing.split('\0') if p and is_training_file(p)})


def _changed_from(commit: str, root: Optional[str]) -> Optional[List[str]]:
    """Training files that differ between ``commit`` and the working tree, untracked included."""
    tracked = _training_files(_git('diff', '--name-only', '-z', commit, '--', *SEARCHED,
                                   root=root))
    untracked = _training_files(_git('ls-files', '-z', '--others', '--exclude-standard', '--',
                                     *SEARCHED, root=root))
    if tracked is None or untracked is None:
        return None
    return sorted(set(tracked) | set(untracked))


def code_version(root: Optional[str] = None) -> Optional[Dict]:
    """The checkout's commit and whether its training files differ from it.

    Returns:
        dict | None: ``{'commit': <sha>, 'dirty': bool}``, None outside a git checkout of this
        repository.
    """
    commit = _git('rev-parse', 'HEAD', root=root)
    if not commit:
        return None
    changed = _changed_from(commit.strip(), root)
    return dict(commit=commit.strip(), dirty=changed is None or bool(changed))


def started_version(started: Optional[Dict], now: Optional[Dict]) -> Optional[Dict]:
    """The version to record for a run that first started with ``started`` and finished with
    ``now`` (a resumed run): ``started``, marked ``resumed_at`` ``now`` when the code differs."""
    if started is None or now is None or started == now:
        return started if started is not None else now
    return dict(started, resumed_at=now)


def record_start(path: str, **fields) -> Optional[Dict]:
    """Before a run trains (or resumes): write its start record ``path``
    (``train_started.json``: ``fields`` and the code it first started from, kept from an
    earlier start of a cut run) and return the version to record when it finishes
    (:func:`started_version` of that first code and the code now)."""
    now = code_version()
    first = now
    if osp.isfile(path):  # a cut run resumes: it first started from that code
        with open(path) as f:
            first = json.load(f).get('code', now)
    os.makedirs(osp.dirname(osp.abspath(path)), exist_ok=True)
    with open(path, 'w') as f:
        json.dump(dict(fields, code=first), f, indent=2)
    return started_version(first, now)


def changed_since(version: Optional[Dict], root: Optional[str] = None) -> Optional[List[str]]:
    """The training files that differ between ``version`` (a :func:`code_version` record) and
    the working tree now.

    Returns:
        list[str] | None: The changed paths (empty: the same training code), or None when it
        cannot be told: no record, a record made with uncommitted changes (their content is
        unknown) or resumed with other code, a commit this checkout does not have, or no git.
    """
    if not version or version.get('dirty') or version.get('resumed_at') or \
            not version.get('commit'):
        return None
    return _changed_from(version['commit'], root)


def reuse_warning(record: Dict, what: str, root: Optional[str] = None) -> Optional[str]:
    """A warning for reusing ``what`` (e.g. "The trained KD in work_dirs/...") whose
    ``train_done.json`` is ``record``, or None when its training code is the current one (or
    nothing can be known now: no git checkout)."""
    if _git('rev-parse', 'HEAD', root=root) is None:
        return None
    fix = 'Remove the folder (or use another --work-dir) to train it with the current code.'
    if 'code' not in record:
        return (f'{what} does not record the code it was trained with (trained before runs '
                f'recorded it); its numbers may be those of older code. {fix}')
    version = record['code']
    if version is None:
        return (f'{what} was trained outside a git checkout, so the code it was trained with is '
                f'unknown. {fix}')
    commit = version.get('commit', '?')[:10]
    changed = changed_since(version, root)
    if changed is None:
        how = (f'and resumed at {version["resumed_at"].get("commit", "?")[:10]}'
               if version.get('resumed_at') else 'with uncommitted changes'
               if version.get('dirty') else '(a commit this checkout does not have)')
        return (f'{what} was trained at {commit} {how}, so it cannot be told whether the code '
                f'it was trained with is the current one. {fix}')
    if changed:
        listed = ', '.join(changed[:5]) + (f' and {len(changed) - 5} more'
                                           if len(changed) > 5 else '')
        return (f'{what} was trained at {commit}; {len(changed)} file(s) it was trained with '
                f'changed since ({listed}): its numbers may be those of the old code. {fix}')
    return None
