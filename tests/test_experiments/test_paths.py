"""Where the experiment tools find the configs and tools."""
import os.path as osp

import pytest

from mmreviewkd.experiments import paths


def test_project_root_is_the_checkout_with_configs_and_tools():
    root = paths.project_root()
    assert osp.isfile(osp.join(root, 'tools', 'train.py'))
    assert osp.isfile(osp.join(root, 'configs', 'fashion_mnist', 'resnet20_fmnist.py'))


def test_project_root_names_both_places_when_neither_has_the_tools(tmp_path, monkeypatch):
    fake = tmp_path / 'site' / 'mmreviewkd' / 'experiments' / 'paths.py'
    fake.parent.mkdir(parents=True)
    monkeypatch.setattr(paths, '__file__', str(fake))
    with pytest.raises(FileNotFoundError, match=r'\.mim'):
        paths.project_root()
