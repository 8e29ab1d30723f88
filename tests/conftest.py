"""Shared fixtures. Tests are collected rootdir-relative (no ``tests`` package: the mmrazor wheel
installs a top-level ``tests`` package into site-packages)."""
import os
import os.path as osp

import pytest

import mmreviewkd  # noqa: F401  (compat fixes + registries before anything imports MMRazor)
from mmreviewkd.experiments.paths import project_root

ROOT = project_root()
FMNIST = osp.join(ROOT, 'data', 'fashion_mnist')


@pytest.fixture(scope='session')
def fmnist_root() -> str:
    if not osp.isfile(osp.join(FMNIST, 't10k-labels-idx1-ubyte')):
        pytest.skip('Fashion-MNIST is not under data/fashion_mnist (run tools/setup_env.sh)')
    return FMNIST


@pytest.fixture(scope='session')
def tool():
    """Run a repository tool (``tool('tools/train.py', cfg, ...)``) with this interpreter from
    the repository root; return its stdout + stderr, failing with the output's tail."""
    import subprocess
    import sys

    def run(*args: str, check: bool = True) -> str:
        proc = subprocess.run([sys.executable, *args], cwd=ROOT, capture_output=True, text=True)
        out = proc.stdout + proc.stderr
        if check and proc.returncode != 0:
            raise AssertionError(f'{args} failed ({proc.returncode}):\n{out[-4000:]}')
        return out
    return run


@pytest.fixture(autouse=True)
def _torch_threads():
    import torch
    torch.set_num_threads(min(2, os.cpu_count() or 1))
    yield
