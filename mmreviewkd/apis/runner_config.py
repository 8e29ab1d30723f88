"""Turning a config file plus command-line options into a Runner config (shared by the tools)."""
import os.path as osp
from typing import Optional

from mmengine.config import Config, DictAction  # noqa: F401  (re-exported for the tools)
from mmengine.logging import print_log

from mmreviewkd.utils.mmcv_ops import check_mmcv_ops_for_config


def amp_optim_wrapper_type() -> str:
    """The optimizer wrapper ``--amp`` selects: MMEngine's ``AmpOptimWrapper`` (fp16 + loss
    scaling) on GPU, ``mmreviewkd.CPUAmpOptimWrapper`` (bfloat16 autocast) on CPU."""
    import torch
    return 'AmpOptimWrapper' if torch.cuda.is_available() else 'mmreviewkd.CPUAmpOptimWrapper'


def _enable_amp(cfg: Config) -> None:
    """Switch to mixed precision: MMEngine's ``AmpOptimWrapper`` (fp16 + loss scaling) on GPU,
    ``mmreviewkd.CPUAmpOptimWrapper`` (bfloat16 autocast) on CPU."""
    optim_wrapper = cfg.optim_wrapper.get('type', 'OptimWrapper')
    if 'AmpOptimWrapper' in optim_wrapper:
        print_log('AMP is already enabled in the config.', logger='current')
        return
    if optim_wrapper not in ('OptimWrapper', 'mmengine.OptimWrapper'):
        raise ValueError(f'--amp needs optim_wrapper.type="OptimWrapper" in the config, got '
                         f'{optim_wrapper!r}')
    cfg.optim_wrapper.type = amp_optim_wrapper_type()
    if cfg.optim_wrapper.type == 'AmpOptimWrapper':
        cfg.optim_wrapper.setdefault('loss_scale', 'dynamic')
    else:
        print_log('--amp on CPU: bfloat16 autocast (CPUAmpOptimWrapper)', logger='current')


def _cpu_ddp_defaults(cfg: Config) -> None:
    """Without CUDA, DDP must wrap a CPU module: ``device_ids=None`` and the gloo backend."""
    import torch
    if torch.cuda.is_available():
        return
    wrapper = cfg.get('model_wrapper_cfg') or dict(type='MMDistributedDataParallel')
    # MMEngine reads a top-level `find_unused_parameters` only when there is no
    # `model_wrapper_cfg`; since one is always created here, carry the key over (refusing a
    # contradiction) so that it is honoured, not silently dropped.
    if cfg.get('find_unused_parameters') is not None:
        top = bool(cfg.find_unused_parameters)
        inner = wrapper.get('find_unused_parameters')
        if inner is not None and bool(inner) != top:
            raise ValueError(
                f'find_unused_parameters={top} contradicts model_wrapper_cfg.'
                f'find_unused_parameters={inner}: set it in one place.')
        wrapper['find_unused_parameters'] = top
    wrapper.setdefault('device_ids', None)
    wrapper.setdefault('broadcast_buffers', False)
    cfg.model_wrapper_cfg = wrapper
    cfg.setdefault('env_cfg', {}).setdefault('dist_cfg', {})['backend'] = 'gloo'


def check_data_paths(cfg: Config, loaders=('train_dataloader', 'val_dataloader',
                                           'test_dataloader')) -> None:
    """Fail early, naming the config key, when a dataset's files are not where the config
    says (unless the dataset downloads itself, ``download=True``).

    Raises:
        FileNotFoundError: for a missing ``data_root`` or annotation file.
    """
    for loader in loaders:
        loader_cfg = cfg.get(loader)
        if not loader_cfg or 'dataset' not in loader_cfg:
            continue
        datasets = [(f'{loader}.dataset', loader_cfg.dataset)]
        while datasets:
            key, ds = datasets.pop()
            if 'dataset' in ds:  # RepeatDataset, ClassBalancedDataset, ...
                datasets.append((f'{key}.dataset', ds.dataset))
                continue
            if 'datasets' in ds:  # ConcatDataset
                datasets += [(f'{key}.datasets.{i}', d) for i, d in enumerate(ds.datasets)]
                continue
            if ds.get('download', False):
                continue
            root = ds.get('data_root', '') or ''
            if root and '://' not in root and not osp.isdir(root):
                raise FileNotFoundError(
                    f'{key}.data_root={root!r} does not exist. Put the dataset there (see the '
                    f'README: "Real CIFAR-100, ImageNet or COCO") or point the key at it, e.g. '
                    f'--cfg-options {key}.data_root=/path/to/data')
            ann = ds.get('ann_file', '') or ''
            if ann and '://' not in ann and '://' not in root:
                path = ann if osp.isabs(ann) else osp.join(root, ann)
                if not osp.isfile(path):
                    raise FileNotFoundError(
                        f'{key}.ann_file={ann!r} (resolved to {path!r}) does not exist: fix '
                        f'{key}.ann_file or {key}.data_root')


def build_runner_config(config: str,
                        work_dir: Optional[str] = None,
                        cfg_options: Optional[dict] = None,
                        launcher: str = 'none',
                        amp: bool = False,
                        resume: Optional[str] = None,
                        out: Optional[str] = None,
                        show_dir: Optional[str] = None,
                        for_test: bool = False) -> Config:
    """Load ``config`` and apply the tools' command-line options.

    Args:
        config (str): Config file path.
        work_dir (str, optional): Overrides ``cfg.work_dir``; the default is
            ``work_dirs/<config name>``.
        cfg_options (dict, optional): ``--cfg-options`` overrides.
        launcher (str): ``none``, ``pytorch``, ``slurm`` or ``mpi``.
        amp (bool): Switch the optimizer wrapper to ``AmpOptimWrapper``.
        resume (str, optional): ``'auto'`` resumes from the latest checkpoint of the work dir,
            a path from that checkpoint.
        out (str, optional): Dump test predictions to this pickle file.
        show_dir (str, optional): Save visualised test predictions here.
        for_test (bool): Whether the config is used by ``tools/test.py``.

    Returns:
        Config: The runner config.
    """
    if not osp.isfile(config):
        raise FileNotFoundError(f'config file not found: {config}')
    cfg = Config.fromfile(config)
    if cfg_options:
        cfg.merge_from_dict(cfg_options)
    cfg.launcher = launcher
    if launcher != 'none':
        _cpu_ddp_defaults(cfg)
    if work_dir is not None:
        cfg.work_dir = work_dir
    elif cfg.get('work_dir') is None:
        cfg.work_dir = osp.join('./work_dirs', osp.splitext(osp.basename(config))[0])
    if amp:
        _enable_amp(cfg)
    if resume == 'auto':
        cfg.resume = True
        cfg.load_from = None
    elif resume is not None:
        cfg.resume = True
        cfg.load_from = resume
    check_mmcv_ops_for_config(cfg)
    check_data_paths(cfg, ('test_dataloader', ) if for_test else
                     ('train_dataloader', 'val_dataloader'))
    if for_test:
        cfg.load_from = None  # tools/test.py loads the checkpoint itself, strictly
        if out is not None:
            if not out.endswith(('.pkl', '.pickle')):
                raise ValueError(f'--out must be a .pkl/.pickle file, got {out}')
            evaluator = cfg.test_evaluator
            if isinstance(evaluator, (list, tuple)):
                evaluator = list(evaluator)
            elif 'metrics' in evaluator:
                evaluator = list(evaluator['metrics'])
            else:
                evaluator = [evaluator]
            evaluator.append(dict(type='mmreviewkd.CompactDumpResults', out_file_path=out))
            cfg.test_evaluator = evaluator
        if show_dir is not None:
            vis = cfg.default_hooks.get('visualization')
            if vis is None:
                raise ValueError('--show-dir needs `default_hooks.visualization` in the config')
            vis.interval = 1  # every test image, not every n-th
            if 'DetVisualizationHook' in str(vis.get('type', '')):
                vis.draw = True  # MMDet's hook
                vis.test_out_dir = show_dir
            else:
                vis.enable = True  # MMPretrain's hook
                vis.out_dir = show_dir
    return cfg
