"""Turning a config file plus command-line options into a Runner config (shared by the tools)."""
import os.path as osp
from typing import Optional

from mmengine.config import Config, DictAction  # noqa: F401  (re-exported for the tools)
from mmengine.logging import print_log


def _enable_amp(cfg: Config) -> None:
    optim_wrapper = cfg.optim_wrapper.get('type', 'OptimWrapper')
    if optim_wrapper == 'AmpOptimWrapper':
        print_log('AMP is already enabled in the config.', logger='current')
        return
    if optim_wrapper not in ('OptimWrapper', 'mmengine.OptimWrapper'):
        raise ValueError(f'--amp needs optim_wrapper.type="OptimWrapper", got {optim_wrapper!r}')
    cfg.optim_wrapper.type = 'AmpOptimWrapper'
    cfg.optim_wrapper.setdefault('loss_scale', 'dynamic')


def build_runner_config(config: str,
                        work_dir: Optional[str] = None,
                        cfg_options: Optional[dict] = None,
                        launcher: str = 'none',
                        amp: bool = False,
                        resume: Optional[str] = None,
                        load_from: Optional[str] = None,
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
        load_from (str, optional): Checkpoint to evaluate (test).
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
    if for_test:
        cfg.load_from = load_from
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
            evaluator.append(dict(type='mmengine.DumpResults', out_file_path=out))
            cfg.test_evaluator = evaluator
        if show_dir is not None:
            vis = cfg.default_hooks.get('visualization')
            if vis is None:
                raise ValueError('--show-dir needs `default_hooks.visualization` in the config')
            vis.enable = True
            vis.setdefault('draw', True)
            if 'mmdet' in str(vis.get('type', '')) or 'DetVisualizationHook' in str(vis.type):
                vis.draw = True
                vis.test_out_dir = show_dir
            else:
                vis.out_dir = show_dir
    return cfg
