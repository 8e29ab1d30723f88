"""The models and the training step of the step benchmarks (``benchmark_step.py``,
``profile_step.py`` in ``tools/analysis_tools/``): each variant built from the committed CIFAR-100
configs with random weights, a fixed random batch, and one optimisation step through MMEngine's
``train_step`` as ``tools/train.py`` runs it."""
import copy
import json
import os
import os.path as osp
import subprocess
import sys
import time
from typing import Callable, Dict, Optional

from .paths import project_root

ROOT = project_root()
VARIANTS = ['student', 'student_channels_last', 'kd', 'reviewkd', 'reviewkd_reference',
            'reviewkd_split_only', 'reviewkd_unfused', 'reviewkd_float32',
            'reviewkd_inference_mode', 'reviewkd_compiled', 'tskd']
# the official formulation, every speed option off
OFFICIAL_CONNECTOR = dict(split_attention=False, fused_ops=False, compute_dtype='float32')
# KD is the ReviewKD pair config with this config's distiller (0.1 CE + 0.9 KL at T = 4)
KD_CONFIG = 'configs/fashion_mnist/kd_resnet56_resnet20_fmnist.py'


def review_path_setting() -> str:
    """What the ReviewKD variants' review path runs in on this machine (the committed configs'
    ``compute_dtype='auto'``), for the settings of a step measurement."""
    import torch

    from mmreviewkd.models.connectors import ReviewKDConnector
    lowered = ReviewKDConnector(compute_dtype='auto').autocast_dtype(torch.device('cpu'))
    return ("bfloat16 (compute_dtype='auto' on a CPU with AMX-BF16 / AVX512-BF16)"
            if lowered is not None else "float32 (compute_dtype='auto', no bf16 units)")


def config_path(variant: str, teacher: str, student: str) -> str:
    """The committed config of a variant for the ``teacher`` -> ``student`` pair."""
    if variant.startswith('student'):
        return osp.join(ROOT, 'configs', 'cifar100', f'{student}_cifar100.py')
    if variant == 'tskd':
        return osp.join(ROOT, 'configs', 'tskd', f'tskd_{teacher}_{student}_cifar100.py')
    return osp.join(ROOT, 'configs', 'reviewkd', f'reviewkd_{teacher}_{student}_cifar100.py')


def model_cfg(variant: str, teacher: str, student: str) -> Optional[dict]:
    """The model config of a variant, from the committed configs (None if there is none)."""
    from mmengine.config import Config
    path = config_path(variant, teacher, student)
    if not osp.isfile(path):
        return None
    cfg = Config.fromfile(path)
    model = copy.deepcopy(cfg.model.to_dict() if hasattr(cfg.model, 'to_dict') else cfg.model)
    model.setdefault('data_preprocessor', cfg.get('data_preprocessor'))
    model.pop('teacher_ckpt', None)  # random weights: timing only
    if variant == 'kd':
        kd = Config.fromfile(osp.join(ROOT, KD_CONFIG)).model.distiller
        model['distiller'] = copy.deepcopy(kd.to_dict())
    elif variant in ('reviewkd_reference', 'reviewkd_split_only', 'reviewkd_unfused'):
        # reference: all off; split_only: + split attention; unfused: + channels_last
        distiller = model['distiller']
        distiller['connectors']['review'].update(
            OFFICIAL_CONNECTOR, split_attention=variant != 'reviewkd_reference')
        distiller['distill_losses']['loss_hcl'].update(nested_pools=False, fused_ops=False)
        model['channels_last'] = variant == 'reviewkd_unfused'
        model['teacher_fold_bn'] = False
    elif variant == 'reviewkd_float32':  # the defaults with the review path in float32
        model['distiller']['connectors']['review']['compute_dtype'] = 'float32'
    elif variant == 'reviewkd_inference_mode':
        model['teacher_grad_mode'] = 'inference_mode'
    elif variant == 'reviewkd_compiled':
        model['compile_connectors'] = True
    return model


def build(cfg: dict):
    """Build a model config in its scope (MMPretrain's unless it names one)."""
    from mmengine.registry import DefaultScope

    from mmreviewkd.registry import MODELS
    with DefaultScope.overwrite_default_scope(cfg.get('_scope_', 'mmpretrain')):
        return MODELS.build(copy.deepcopy(cfg))


def fake_batch(batch: int, seed: int = 0) -> dict:
    """``batch`` random 3x32x32 uint8 images with labels 0..99, as a dataloader gives them."""
    import torch
    from mmpretrain.structures import DataSample
    g = torch.Generator().manual_seed(seed)
    imgs = [torch.randint(0, 256, (3, 32, 32), generator=g, dtype=torch.uint8)
            for _ in range(batch)]
    return dict(inputs=imgs, data_samples=[DataSample().set_gt_label(i % 100)
                                           for i in range(batch)])


def to_channels_last(model) -> None:
    """Plain classifiers have no option: convert weights and, per step, the inputs."""
    import torch
    model.to(memory_format=torch.channels_last)
    dp = model.data_preprocessor
    orig = dp.forward

    def forward(data, training=False):
        out = orig(data, training)
        out['inputs'] = out['inputs'].contiguous(memory_format=torch.channels_last)
        return out
    dp.forward = forward


def optim_wrapper(model, amp: bool = False):
    """SGD in MMEngine's ``OptimWrapper``, or with ``amp`` in ``CPUAmpOptimWrapper`` (bfloat16
    autocast, what ``tools/train.py --amp`` uses without a GPU)."""
    import torch
    from mmengine.optim import OptimWrapper

    from mmreviewkd.engine.optimizers import CPUAmpOptimWrapper
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.SGD(params, lr=0.01, momentum=0.9)
    return CPUAmpOptimWrapper(optimizer=optimizer) if amp else OptimWrapper(optimizer)


def mmengine_stepper(model, batch: int, amp: bool = False):
    """One ``train_step`` (MMEngine's path, as in tools/train.py) per call; ``amp``: under
    bfloat16 autocast."""
    model.train()
    wrapper = optim_wrapper(model, amp)
    data = fake_batch(batch)
    return lambda: model.train_step(data, wrapper)


def seconds_per_step(step: Callable[[], object], iters: int, warmup: int) -> float:
    """Mean seconds of ``step()`` over ``iters`` calls after ``warmup`` untimed ones."""
    for _ in range(warmup):
        step()
    t0 = time.perf_counter()
    for _ in range(iters):
        step()
    return (time.perf_counter() - t0) / iters


def run_step_worker(tree: str, pair: str, variant: str, batch: int, iters: int, warmup: int,
                    threads: Optional[int] = None, amp: bool = False,
                    own_package: bool = False) -> Dict:
    """Time one variant in a fresh process by ``tree``'s own
    ``tools/analysis_tools/benchmark_step.py --worker`` and return its figures.

    Args:
        tree (str): The checkout whose worker runs (this repository, or an earlier commit's).
        own_package (bool): Put ``tree`` first on ``PYTHONPATH``, so the worker imports that
            checkout's ``mmreviewkd`` rather than the installed one.

    Raises:
        RuntimeError: when the worker fails, with the end of its stderr.
    """
    cmd = [sys.executable, osp.join(tree, 'tools', 'analysis_tools', 'benchmark_step.py'),
           '--worker', pair, variant, '--batch', str(batch), '--iters', str(iters),
           '--warmup', str(warmup)]
    if threads:
        cmd += ['--threads', str(threads)]
    if amp:
        cmd.append('--amp')
    env = dict(os.environ, PYTHONPATH=tree) if own_package else None
    proc = subprocess.run(cmd, cwd=tree, env=env, capture_output=True, text=True)
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith('{')]
    if proc.returncode != 0 or not lines:
        raise RuntimeError(f'{tree}: {pair} {variant} failed:\n{proc.stderr[-3000:]}')
    return json.loads(lines[-1])
