"""mmreviewkd as a dependency of another OpenMMLab project.

The repository's wheel is installed into a fresh virtual environment that reuses this
environment's OpenMMLab stack (torch, MMEngine, mmcv, MMPretrain, MMRazor, openmim: nothing is
rebuilt) but not the development install of mmreviewkd. From a directory outside the repository,
a downstream project's config - ``default_scope='mmpretrain'``, ``custom_imports=['mmreviewkd']``
and the package's shipped Fashion-MNIST ReviewKD config as its base - trains one tiny epoch
through MMPretrain's own entry point (``mim train mmpretrain``) and through mmreviewkd's
(``mim train mmreviewkd``).

The wheel is built from a copy of the working tree without the git-ignored files: building in
place would replace the development install's ``mmreviewkd/.mim`` symlinks with copies.
"""
import fnmatch
import json
import os
import os.path as osp
import shutil
import subprocess
import sys
import sysconfig
import zipfile

import pytest
import yaml

from mmreviewkd.experiments.paths import project_root

ROOT = project_root()
SHIPPED_CONFIG = 'fashion_mnist/reviewkd_resnet56_resnet20_fmnist.py'
# Patterns of the repository's files that the wheel carries in ``mmreviewkd/.mim``
# (setup.cfg's package_data).
MIM_PATTERNS = {'configs': ('*.py', '*.md', '*.yml'), 'tools': ('*.py', '*.sh')}
# Git-ignored paths (.gitignore) and the repository's own environment: not part of a checkout.
TOP_LEVEL_SKIP = {'.git', '.venv', 'data', 'work_dirs', 'build', 'dist'}
SKIP_ANYWHERE = ('__pycache__', '.pytest_cache', '*.egg-info', '*.pyc', '*.pth')
# Types the shipped config builds, by mmreviewkd registry: they must come from the wheel.
REGISTERED = {
    'MODELS': ('ReviewKDDistill', 'ReviewKDConnector', 'HCLLoss', 'ResNetCifar'),
    'TASK_UTILS': ('StageFeaturesRecorder', ),
    'HOOKS': ('DistillLossWarmupHook', ),
}
TIMEOUT = 900


def _skip_ignored(directory: str, names: list) -> set:
    """``shutil.copytree`` ignore function: what a fresh checkout would not contain."""
    skipped = {n for n in names if any(fnmatch.fnmatch(n, p) for p in SKIP_ANYWHERE)}
    if osp.samefile(directory, ROOT):
        skipped |= TOP_LEVEL_SKIP & set(names)
    elif osp.samefile(directory, osp.join(ROOT, 'mmreviewkd')):
        skipped |= {'.mim'} & set(names)
    return skipped


def _run(cmd: list, cwd: str, env: dict) -> str:
    """Run ``cmd``; return its stdout + stderr, failing with the output's tail."""
    proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=TIMEOUT)
    out = proc.stdout + proc.stderr
    if proc.returncode != 0:
        raise AssertionError(f'{cmd} failed ({proc.returncode}):\n{out[-4000:]}')
    return out


def _mim_payload(root: str) -> set:
    """The files the wheel must carry in ``mmreviewkd/.mim``, as wheel archive names."""
    names = {'mmreviewkd/.mim/model-index.yml'}
    for item, patterns in MIM_PATTERNS.items():
        for dirpath, dirnames, filenames in os.walk(osp.join(root, item)):
            dirnames[:] = [d for d in dirnames if d != '__pycache__']
            for fname in filenames:
                if any(fnmatch.fnmatch(fname, p) for p in patterns):
                    rel = osp.relpath(osp.join(dirpath, fname), root)
                    names.add('mmreviewkd/.mim/' + rel.replace(os.sep, '/'))
    with open(osp.join(root, 'model-index.yml'), encoding='utf-8') as f:
        names |= {'mmreviewkd/.mim/' + path for path in yaml.safe_load(f)['Import']}
    return names


def _package_modules(root: str) -> set:
    """The package's Python modules (every registry location among them), as archive names."""
    names = set()
    for dirpath, dirnames, filenames in os.walk(osp.join(root, 'mmreviewkd')):
        dirnames[:] = [d for d in dirnames if d not in ('__pycache__', '.mim')]
        names |= {osp.relpath(osp.join(dirpath, f), root).replace(os.sep, '/')
                  for f in filenames if f.endswith('.py')}
    return names


@pytest.fixture(scope='module')
def subprocess_env() -> dict:
    """Environment of the child processes: nothing from this process' import path, one thread
    per process unless the caller chose otherwise."""
    env = dict(os.environ)
    env.pop('PYTHONPATH', None)
    env.pop('PYTHONHOME', None)
    env.setdefault('OMP_NUM_THREADS', '1')
    return env


@pytest.fixture(scope='module')
def wheel(tmp_path_factory, subprocess_env) -> str:
    """Build the repository's wheel from a copy of the working tree; return its path."""
    work = tmp_path_factory.mktemp('wheel')
    src, dist = str(work / 'src'), str(work / 'dist')
    shutil.copytree(ROOT, src, symlinks=True, ignore=_skip_ignored)
    _run([sys.executable, '-m', 'pip', 'wheel', '--no-deps', '--no-build-isolation',
          '--no-index', '--disable-pip-version-check', '-q', '-w', dist, src],
         cwd=str(work), env=subprocess_env)
    wheels = [f for f in os.listdir(dist) if f.startswith('mmreviewkd-') and f.endswith('.whl')]
    assert len(wheels) == 1, os.listdir(dist)
    return osp.join(dist, wheels[0])


@pytest.fixture(scope='module')
def downstream(tmp_path_factory, wheel, subprocess_env) -> dict:
    """A fresh virtual environment with the wheel installed, reusing this environment's stack.

    Returns:
        dict: ``python`` (the new interpreter), ``site`` (its site-packages) and ``project`` (an
        empty directory outside the repository, the downstream project's).
    """
    venv = str(tmp_path_factory.mktemp('downstream_venv'))
    # Created from inside this venv, `venv` uses the same base interpreter: compiled packages of
    # the stack (torch, mmcv) stay loadable.
    _run([sys.executable, '-m', 'venv', '--without-pip', '--clear', venv], cwd=venv,
         env=subprocess_env)
    python = osp.join(venv, 'bin', 'python')
    site = _run([python, '-c', 'import sysconfig; print(sysconfig.get_path("purelib"))'],
                cwd=venv, env=subprocess_env).strip()
    # A plain path line: the stack's directory is appended to sys.path after the venv's own
    # site-packages, and its .pth files (the development install's import hook) are not run.
    with open(osp.join(site, 'openmmlab_stack.pth'), 'w', encoding='utf-8') as f:
        f.write(sysconfig.get_path('purelib') + '\n')
    # pip itself comes from the stack; --ignore-installed: the development install's metadata
    # is visible on the appended path, and must be neither reused nor touched.
    _run([python, '-m', 'pip', 'install', '--no-deps', '--no-index', '--ignore-installed',
          '--disable-pip-version-check', '-q', wheel], cwd=venv, env=subprocess_env)
    project = str(tmp_path_factory.mktemp('downstream_project'))
    assert not osp.realpath(project).startswith(osp.realpath(ROOT) + os.sep)
    return dict(python=python, site=site, project=project)


@pytest.fixture(scope='module')
def installed(downstream, subprocess_env) -> dict:
    """What the fresh environment imports: mmreviewkd's file, the package path ``mim`` resolves,
    the files defining the registered types the shipped config uses, and the base prefix."""
    probe = '\n'.join([
        'import inspect, json, sys',
        'import mmreviewkd',
        'from mim.utils import get_installed_path',
        'from mmreviewkd import registry',
        f'wanted = {REGISTERED!r}',
        'found = {f"{reg}.{name}": getattr(registry, reg).get(name)',
        '         for reg, names in wanted.items() for name in names}',
        'print(json.dumps(dict(',
        '    module=mmreviewkd.__file__, mim_path=get_installed_path("mmreviewkd"),',
        '    base_prefix=sys.base_prefix,',
        '    types={k: cls and inspect.getfile(cls) for k, cls in found.items()})))',
    ])
    proc = subprocess.run([downstream['python'], '-c', probe], cwd=downstream['project'],
                          env=subprocess_env, capture_output=True, text=True, timeout=TIMEOUT)
    assert proc.returncode == 0, proc.stderr[-4000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


@pytest.fixture(scope='module')
def downstream_config(downstream, installed, fmnist_root) -> str:
    """A downstream project's config, outside the repository, on top of the shipped config
    (found in the installed wheel through ``mim``); cut to 128 + 64 images and one epoch."""
    base = osp.join(installed['mim_path'], '.mim', 'configs', *SHIPPED_CONFIG.split('/'))
    text = f"""\
_base_ = [{base!r}]
custom_imports = dict(imports=['mmreviewkd'], allow_failed_imports=False)
default_scope = 'mmpretrain'  # the downstream project's scope

data_root = {fmnist_root!r}
model = dict(_scope_='mmreviewkd', teacher=dict(backbone=dict(depth=8)), teacher_ckpt=None)
custom_hooks = [dict(type='mmreviewkd.DistillLossWarmupHook', warmup=1, by_epoch=True)]
train_cfg = dict(max_epochs=1)
param_scheduler = [dict(type='LinearLR', start_factor=0.1, by_epoch=True, begin=0, end=1,
                        convert_to_iter_based=True)]
train_dataloader = dict(batch_size=32, num_workers=0, persistent_workers=False,
                        dataset=dict(data_root=data_root, indices=128))
val_dataloader = dict(batch_size=64, num_workers=0, persistent_workers=False,
                      dataset=dict(data_root=data_root, indices=64))
test_dataloader = val_dataloader
default_hooks = dict(logger=dict(interval=1))
"""
    path = osp.join(downstream['project'], 'tiny_reviewkd_fmnist.py')
    with open(path, 'w', encoding='utf-8') as f:
        f.write(text)
    return path


def test_wheel_carries_configs_tools_model_index_and_every_module(wheel):
    """The wheel holds the working tree's mim payload (``mmreviewkd/.mim/configs``, ``tools``,
    ``model-index.yml`` and the metafiles it imports) and every module of the package."""
    with zipfile.ZipFile(wheel) as zf:
        names = set(zf.namelist())
    missing = sorted((_mim_payload(ROOT) | _package_modules(ROOT)) - names)
    assert not missing, f'{len(missing)} files missing from {osp.basename(wheel)}: {missing[:20]}'


def test_fresh_environment_imports_the_wheel_and_its_registry_entries(downstream, installed):
    """The new environment shares the base interpreter, imports mmreviewkd from the installed
    wheel (not from the repository), ``mim`` resolves the package there with its ``.mim``
    payload, and every type the shipped config builds is registered from the wheel."""
    assert installed['base_prefix'] == sys.base_prefix
    package = osp.join(downstream['site'], 'mmreviewkd')
    assert installed['module'] == osp.join(package, '__init__.py')
    assert installed['mim_path'] == package
    for item in ('configs', 'tools', 'model-index.yml'):
        assert osp.exists(osp.join(package, '.mim', item)), item
        assert not osp.islink(osp.join(package, '.mim', item)), item
    for key, path in installed['types'].items():
        assert path is not None, f'{key} is not registered in the installed wheel'
        assert path.startswith(package + os.sep), f'{key} comes from {path}'


@pytest.mark.parametrize('entry_point', ['mmpretrain', 'mmreviewkd'])
def test_mim_train_runs_a_downstream_reviewkd_config_on_the_installed_wheel(
        entry_point, downstream, downstream_config, subprocess_env):
    """``mim train mmpretrain CONFIG`` runs MMPretrain's tools/train.py, ``mim train mmreviewkd
    CONFIG`` the wheel's; both train the downstream config with the distillation loss."""
    work_dir = osp.join(downstream['project'], f'work_{entry_point}')
    out = _run([downstream['python'], '-m', 'mim', 'train', entry_point, downstream_config,
                '--work-dir', work_dir], cwd=downstream['project'], env=subprocess_env)
    # mim's report of the command it ran: the fresh interpreter and the entry point's script
    script = osp.join('mmpretrain' if entry_point == 'mmpretrain' else
                      osp.join(downstream['site'], 'mmreviewkd'), '.mim', 'tools', 'train.py')
    command = next(line for line in out.splitlines() if line.startswith('Training command is'))
    assert command.startswith(f'Training command is {downstream["python"]} '), command
    assert script in command, command
    assert 'distill.loss_hcl' in out and 'accuracy/top1' in out, out[-4000:]
    assert osp.isfile(osp.join(work_dir, 'epoch_1.pth'))


def test_mim_resolves_the_development_install_to_the_working_tree():
    """tools/setup_env.sh installs the package so that `mim train mmreviewkd` finds this
    checkout's configs and tools."""
    from mim.utils import get_installed_path
    assert get_installed_path('mmreviewkd') == osp.join(ROOT, 'mmreviewkd')
