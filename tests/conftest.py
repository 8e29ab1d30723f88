"""Shared fixtures. Tests are collected rootdir-relative (no ``tests`` package: the mmrazor wheel
installs a top-level ``tests`` package into site-packages)."""
import os
import os.path as osp

import pytest

import mmreviewkd  # noqa: F401  (compat fixes + registries before anything imports MMRazor)

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
FMNIST = osp.join(ROOT, 'data', 'fashion_mnist')


@pytest.fixture(scope='session')
def repo_root() -> str:
    return ROOT


@pytest.fixture(scope='session')
def fmnist_root() -> str:
    if not osp.isfile(osp.join(FMNIST, 't10k-labels-idx1-ubyte')):
        pytest.skip('Fashion-MNIST is not under data/fashion_mnist (run tools/setup_env.sh)')
    return FMNIST


@pytest.fixture(autouse=True)
def _torch_threads():
    import torch
    torch.set_num_threads(min(2, os.cpu_count() or 1))
    yield
