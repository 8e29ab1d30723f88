"""Training-step time of the main job's models alone vs. next to one busy process, per thread count.

    python tools/analysis_tools/benchmark_busy.py [--threads 1 2] [--iters 8] [--rounds 3]
        [--out docs/results/busy.json]

The main job trains one model at a time with torch's default intra-op threads (one per core).
When another busy process shares the cores (a second training job, a compile, a test suite),
each thread is descheduled in turn and the synchronising parallel regions wait for the slowest
thread, so a step can slow down several-fold. This script measures it: for each thread count it
times one SGD step (MMEngine ``train_step`` + ``OptimWrapper``) of the Fashion-MNIST teacher
(ResNet-56) and of ReviewKD (ResNet-56 -> ResNet-20), batch 32, 1x28x28, first alone and then
while one neighbour process runs a 2-thread torch matmul loop (what a default torch process
does). Medians of ``--rounds`` rounds of ``--iters`` steps. Figures are printed and saved as
JSON; nothing is asserted.
"""
import argparse
import json
import os
import os.path as osp
import statistics
import subprocess
import sys
import time
from typing import Dict, List

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
NEIGHBOUR = ('import torch\ntorch.set_num_threads(2)\na = torch.randn(768, 768)\n'
             'while True:\n    a = torch.tanh(a @ a)\n')
MODELS_TO_TIME = {
    'teacher (ResNet-56)': 'configs/fashion_mnist/resnet56_fmnist.py',
    'ReviewKD (R56 -> R20)': 'configs/fashion_mnist/reviewkd_resnet56_resnet20_fmnist.py',
}


def step_seconds(config: str, threads: int, iters: int, rounds: int) -> float:
    """Median seconds per training step of ``config``'s model with ``threads`` threads."""
    import torch
    from mmengine.config import Config
    from mmengine.optim import OptimWrapper
    from mmengine.registry import DefaultScope
    from mmpretrain.structures import DataSample

    import mmreviewkd  # noqa: F401
    from mmreviewkd.registry import MODELS
    torch.set_num_threads(threads)
    cfg = Config.fromfile(osp.join(ROOT, config))
    if 'teacher_ckpt' in cfg.model:
        cfg.model.teacher_ckpt = None
    with DefaultScope.overwrite_default_scope('mmreviewkd'):
        model = MODELS.build(cfg.model)
    model.train()
    optim = OptimWrapper(torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9))
    data = dict(inputs=[torch.randint(0, 255, (1, 28, 28), dtype=torch.uint8)
                        for _ in range(32)],
                data_samples=[DataSample().set_gt_label(i % 10) for i in range(32)])
    for _ in range(2):  # warm-up
        model.train_step(data, optim)
    times = []
    for _ in range(rounds):
        t0 = time.perf_counter()
        for _ in range(iters):
            model.train_step(data, optim)
        times.append((time.perf_counter() - t0) / iters)
    return statistics.median(times)


def measure(threads: List[int], iters: int, rounds: int, busy: bool) -> Dict[str, Dict]:
    out: Dict[str, Dict] = {}
    neighbour = None
    if busy:
        neighbour = subprocess.Popen([sys.executable, '-c', NEIGHBOUR])
        time.sleep(2)
    try:
        for name, config in MODELS_TO_TIME.items():
            out[name] = {}
            for t in threads:
                # each measurement in a fresh process: thread pools are per process
                cmd = [sys.executable, __file__, '--single', config, '--threads', str(t),
                       '--iters', str(iters), '--rounds', str(rounds)]
                res = subprocess.run(cmd, cwd=ROOT, text=True,
                                     capture_output=True, env=dict(os.environ,
                                                                   OMP_NUM_THREADS=str(t)))
                if res.returncode != 0:
                    raise RuntimeError(res.stderr[-2000:])
                sec = float(res.stdout.strip().splitlines()[-1])
                out[name][str(t)] = round(sec, 4)
                print(f'{"busy" if busy else "alone":5s}  {name:24s} threads={t}: '
                      f'{sec:.3f} s/step', flush=True)
    finally:
        if neighbour is not None:
            neighbour.kill()
            neighbour.wait()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--threads', type=int, nargs='+', default=[1, 2])
    parser.add_argument('--iters', type=int, default=8)
    parser.add_argument('--rounds', type=int, default=3)
    parser.add_argument('--out', default=osp.join(ROOT, 'docs', 'results', 'busy.json'))
    parser.add_argument('--single', help=argparse.SUPPRESS)  # one config, one thread count
    args = parser.parse_args()
    if args.single:
        print(step_seconds(args.single, args.threads[0], args.iters, args.rounds))
        return
    alone = measure(args.threads, args.iters, args.rounds, busy=False)
    busy = measure(args.threads, args.iters, args.rounds, busy=True)
    result = dict(
        command='python tools/analysis_tools/benchmark_busy.py ' +
        ' '.join(sys.argv[1:]),
        cpu_count=os.cpu_count(), batch=32, input='1x28x28',
        neighbour='one process running a 2-thread torch matmul loop',
        seconds_per_step=dict(alone=alone, busy=busy),
        slowdown={name: {t: round(busy[name][t] / alone[name][t], 2) for t in alone[name]}
                  for name in alone})
    os.makedirs(osp.dirname(args.out), exist_ok=True)
    with open(args.out, 'w') as f:
        json.dump(result, f, indent=2)
    print(json.dumps(result['slowdown'], indent=2))
    print(f'saved {args.out}')


if __name__ == '__main__':
    main()
