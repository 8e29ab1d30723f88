"""Train a model (plain or distilled) with MMEngine's Runner.

    python tools/train.py CONFIG [--work-dir DIR] [--resume [CKPT]] [--amp]
                          [--cfg-options k=v ...] [--launcher none|pytorch|slurm]

``mmreviewkd`` (and with it the compatibility fixes for the pinned OpenMMLab stack) is imported
before the config is read, so MMRazor, MMPretrain and MMDet types all resolve. The process keeps
freed memory for reuse (``mmreviewkd.utils.keep_freed_memory``: glibc's mmap and trim
thresholds raised; bit-identical results, faster CPU steps; ``MMREVIEWKD_KEEP_FREED_MEMORY=0``
turns it off).
"""
import argparse
import os
import os.path as osp
import sys

# Make the repository importable when the package is not installed (e.g. `mim` copies).
sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))

import mmreviewkd  # noqa: E402,F401  (compat fixes + registries first)
from mmreviewkd.apis import build_runner_config  # noqa: E402


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Train a model with mmreviewkd')
    parser.add_argument('config', help='train config file path')
    parser.add_argument('--work-dir', help='the dir to save logs and checkpoints')
    parser.add_argument(
        '--resume', nargs='?', type=str, const='auto',
        help='resume from this checkpoint; without a value, from the latest checkpoint in the '
        'work dir')
    parser.add_argument('--amp', action='store_true', help='enable automatic mixed precision')
    parser.add_argument(
        '--cfg-options', nargs='+', action=mmreviewkd.apis.DictAction,
        help='override config settings, e.g. train_dataloader.batch_size=32')
    parser.add_argument(
        '--launcher', choices=['none', 'pytorch', 'slurm', 'mpi'], default='none',
        help='job launcher')
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)
    args = parser.parse_args(argv)
    if 'LOCAL_RANK' not in os.environ:
        os.environ['LOCAL_RANK'] = str(args.local_rank)
    return args


def main(argv=None) -> None:
    from mmengine.runner import Runner

    from mmreviewkd.utils import keep_freed_memory
    args = parse_args(argv)
    keep_freed_memory()
    cfg = build_runner_config(
        args.config, work_dir=args.work_dir, cfg_options=args.cfg_options,
        launcher=args.launcher, amp=args.amp, resume=args.resume)
    runner = Runner.from_cfg(cfg)
    runner.train()
    mmreviewkd.apis.shutdown_distributed()


if __name__ == '__main__':
    main()
