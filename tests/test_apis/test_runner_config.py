"""build_runner_config honours or refuses every key a user sets for distributed training."""
import os.path as osp

import pytest

from mmreviewkd.apis import build_runner_config
from mmreviewkd.experiments.paths import project_root

ROOT = project_root()
CFG = osp.join(ROOT, 'configs', 'fashion_mnist', 'reviewkd_resnet56_resnet20_fmnist.py')


def test_top_level_find_unused_parameters_reaches_cpu_ddp(fmnist_root):
    """MMEngine reads the top-level key only without a model_wrapper_cfg, which CPU DDP always
    creates: it used to be dropped (feature-only distillation then failed at iteration 2)."""
    cfg = build_runner_config(CFG, launcher='pytorch',
                              cfg_options={'find_unused_parameters': True})
    assert cfg.model_wrapper_cfg['find_unused_parameters'] is True
    assert cfg.model_wrapper_cfg['device_ids'] is None


def test_contradicting_find_unused_parameters_is_refused(fmnist_root):
    opts = {'find_unused_parameters': True,
            'model_wrapper_cfg': dict(type='MMDistributedDataParallel',
                                      find_unused_parameters=False)}
    with pytest.raises(ValueError, match='model_wrapper_cfg.find_unused_parameters'):
        build_runner_config(CFG, launcher='pytorch', cfg_options=opts)
