"""Evaluate a checkpoint with MMEngine's Runner.

    python tools/test.py CONFIG CHECKPOINT [--work-dir DIR] [--out results.pkl]
                         [--show-dir DIR] [--cfg-options k=v ...] [--launcher ...]
"""
import argparse
import os
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))

import mmreviewkd  # noqa: E402,F401
from mmreviewkd.apis import build_runner_config  # noqa: E402


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Test a checkpoint with mmreviewkd')
    parser.add_argument('config', help='test config file path')
    parser.add_argument('checkpoint', help='checkpoint file')
    parser.add_argument('--work-dir', help='the dir to save logs and metrics')
    parser.add_argument('--out', help='dump per-sample predictions to this pickle file')
    parser.add_argument(
        '--show-dir', help='save visualised predictions here (detection / classification '
        'visualisation hooks of the config)')
    parser.add_argument(
        '--metrics-out', help='also write the returned metrics to this JSON file')
    parser.add_argument(
        '--cfg-options', nargs='+', action=mmreviewkd.apis.DictAction,
        help='override config settings')
    parser.add_argument(
        '--launcher', choices=['none', 'pytorch', 'slurm', 'mpi'], default='none')
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)
    args = parser.parse_args(argv)
    if 'LOCAL_RANK' not in os.environ:
        os.environ['LOCAL_RANK'] = str(args.local_rank)
    return args


def main(argv=None) -> dict:
    from mmengine.logging import print_log
    from mmengine.model import is_model_wrapper
    from mmengine.runner import Runner

    from mmreviewkd.utils.checkpoint import load_checkpoint_strict
    args = parse_args(argv)
    # The checkpoint is loaded here, strictly and mapped onto the config's model (a
    # distillation checkpoint with the plain student's config evaluates its student; a
    # checkpoint of another architecture is refused), not by the Runner's non-strict load.
    cfg = build_runner_config(
        args.config, work_dir=args.work_dir, cfg_options=args.cfg_options,
        launcher=args.launcher, out=args.out,
        show_dir=args.show_dir, for_test=True)
    runner = Runner.from_cfg(cfg)
    model = runner.model.module if is_model_wrapper(runner.model) else runner.model
    for note in load_checkpoint_strict(model, args.checkpoint, key='checkpoint'):
        print_log(f'checkpoint {args.checkpoint}: {note}', logger='current')
    metrics = runner.test()
    mmreviewkd.apis.shutdown_distributed()
    if args.metrics_out:
        import json
        os.makedirs(osp.dirname(osp.abspath(args.metrics_out)), exist_ok=True)
        with open(args.metrics_out, 'w') as f:
            json.dump({k: float(v) if hasattr(v, '__float__') else v
                       for k, v in metrics.items()}, f, indent=2)
    return metrics


if __name__ == '__main__':
    main()
