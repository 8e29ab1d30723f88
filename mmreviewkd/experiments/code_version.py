"""Which code a run was trained with: the git commit of the checkout and what changed since.

The experiment tools reuse finished runs (an interrupted protocol resumes; a finished one only
rebuilds its report). A run is keyed by its config and options, not by the code: after a change
to the package, a reused run would silently report what the old code trained. Runs therefore
record :func:`code_version` when they are trained, and a reuse names the training code that has
changed since (:func:`changed_since`), so the user can decide to train again.

Only the paths that decide what a run trains count (:data:`TRAINING_PATHS`): a change to the
docs or to the benchmarks does not. Outside a git checkout (a wheel install) nothing is known
and both functions return None.
"""
import subprocess
from typing import Dict, List, Optional

from .paths import project_root

# what a training run depends on: the package, the configs and the train / test entry points
TRAINING_PATHS = ('mmreviewkd', 'configs', 'tools/train.py', 'tools/test.py')


def _git(*args: str, root: Optional[str] = None) -> Optional[str]:
    """``git args`` in ``root`` (the project root), or None when git or the checkout is
    missing or the command fails."""
    try:
        proc = subprocess.run(['git', *args], cwd=root or project_root(), capture_output=True,
                              text=True, timeout=30)
    except (OSError, subprocess.SubprocessError):
        return None
    return proc.stdout.strip() if proc.returncode == 0 else None


def code_version(root: Optional[str] = None) -> Optional[Dict]:
    """The checkout's commit and whether :data:`TRAINING_PATHS` differ from it.

    Returns:
        dict | None: ``{'commit': <sha>, 'dirty': bool}``, None outside a git checkout.
    """
    commit = _git('rev-parse', 'HEAD', root=root)
    if not commit:
        return None
    status = _git('status', '--porcelain', '--', *TRAINING_PATHS, root=root)
    return dict(commit=commit, dirty=bool(status))


def changed_since(version: Optional[Dict], root: Optional[str] = None) -> Optional[List[str]]:
    """The training files that differ between ``version`` (a :func:`code_version` record) and
    the working tree now.

    Returns:
        list[str] | None: The changed paths (empty: the same training code), or None when it
        cannot be told: no record, a record made with uncommitted changes (their content is
        unknown), a commit this checkout does not have, or no git.
    """
    if not version or version.get('dirty') or not version.get('commit'):
        return None
    names = _git('diff', '--name-only', version['commit'], '--', *TRAINING_PATHS, root=root)
    if names is None:
        return None
    untracked = _git('ls-files', '--others', '--exclude-standard', '--', *TRAINING_PATHS,
                     root=root) or ''
    return sorted({*names.splitlines(), *untracked.splitlines()})


def reuse_warning(version: Optional[Dict], what: str, root: Optional[str] = None
                  ) -> Optional[str]:
    """A warning for reusing ``what`` (e.g. "the trained KD run in work_dirs/...") trained with
    the code ``version``, or None when the training code is the same (or cannot be known: no
    git now)."""
    if _git('rev-parse', 'HEAD', root=root) is None:
        return None
    fix = 'Remove the folder (or use another --work-dir) to train it with the current code.'
    if not version:
        return (f'{what} does not record the code it was trained with (trained before runs '
                f'recorded it); its numbers may be those of older code. {fix}')
    changed = changed_since(version, root)
    if changed is None:
        return (f'{what} was trained at {version.get("commit", "?")[:10]}'
                f'{" with uncommitted changes" if version.get("dirty") else ""}, so it cannot be '
                f'told whether the code it was trained with is the current one. {fix}')
    if changed:
        listed = ', '.join(changed[:5]) + (f' and {len(changed) - 5} more'
                                           if len(changed) > 5 else '')
        return (f'{what} was trained at {version["commit"][:10]}; {len(changed)} file(s) it '
                f'was trained with changed since ({listed}): its numbers are those of the old '
                f'code. {fix}')
    return None
