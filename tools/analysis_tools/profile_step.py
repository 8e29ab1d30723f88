"""Where a distillation training step spends its time: phases and operators, per variant.

    python tools/analysis_tools/profile_step.py [--pair resnet56:resnet20] [--variants kd reviewkd]
        [--batch 64] [--iters 5] [--warmup 3] [--top 25] [--out work_dirs/benchmarks/profile.json]

Builds each variant as ``benchmark_step.py`` does (committed CIFAR-100 configs, random weights,
a fixed random 3x32x32 batch; :mod:`mmreviewkd.experiments.step_models`) and runs ``--iters``
optimisation steps through MMEngine's ``train_step`` under ``torch.profiler`` (CPU). Two views:

* **phases** (ms per step): data preprocessor, teacher forward, student forward + task loss,
  each connector's forward (ReviewKD: the ABF chain), each distillation loss's forward
  (HCL, KL), backward, optimizer step + zero_grad. Marked with ``record_function`` around the
  algorithm's own calls, so the numbers are the real step's;
* **operators** (ms per step, self CPU time, the ``--top`` most expensive): the backward of
  the review path shows up here (e.g. ``ConvolutionBackward0``, ``UpsampleNearest2DBackward``,
  ``copy_`` for memory-format conversions); with two variants, the per-operator difference says
  where the extra time of one over the other goes.

Figures are printed (markdown) and saved as JSON; nothing is asserted. The profiler adds some
overhead of its own per operator, so phase times run somewhat above ``benchmark_step.py``'s.
"""
import argparse
from typing import Dict, List

from mmreviewkd.experiments.benchmark_tables import format_profile
from mmreviewkd.experiments.json_io import write_json


def _marked(fn, name: str):
    """``fn`` wrapped in ``torch.profiler.record_function(name)``."""
    import torch

    def wrapper(*args, **kwargs):
        with torch.profiler.record_function(name):
            return fn(*args, **kwargs)
    return wrapper


def mark_phases(model, wrapper) -> List[str]:
    """Wrap the step's calls of ``model`` (a distillation algorithm or a plain classifier) and
    of the optimizer ``wrapper`` in named profiler ranges; returns the range names."""
    names = []

    def mark(obj, attr: str, name: str) -> None:
        setattr(obj, attr, _marked(getattr(obj, attr), name))
        names.append(name)

    mark(model.data_preprocessor, 'forward', 'phase: data preprocessor')
    if hasattr(model, 'student'):
        mark(model, '_run_teacher', 'phase: teacher forward')
        mark(model.student, 'forward', 'phase: student forward + task loss')
        for key, conn in model.distiller.connectors.items():
            mark(conn, 'forward', f'phase: connector {key} forward')
        for key, loss in model.distiller.distill_losses.items():
            mark(loss, 'forward', f'phase: loss {key} forward')
    else:
        mark(model, 'forward', 'phase: forward + loss')
    mark(wrapper, 'backward', 'phase: backward')
    mark(wrapper, 'step', 'phase: optimizer step')
    mark(wrapper, 'zero_grad', 'phase: zero_grad')
    return names


def profile_variant(pair: str, variant: str, batch: int, iters: int, warmup: int,
                    top: int, amp: bool = False) -> Dict:
    """Phases and top operators (ms per step) of ``iters`` profiled steps of one variant."""
    import torch

    from mmreviewkd.experiments.step_models import build, fake_batch, model_cfg, optim_wrapper
    teacher, student = pair.split(':')
    model = build(model_cfg(variant, teacher, student))
    model.train()
    wrapper = optim_wrapper(model, amp)
    data = fake_batch(batch)
    for _ in range(warmup):
        model.train_step(data, wrapper)
    phases = mark_phases(model, wrapper)
    with torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU]) as prof:
        for _ in range(iters):
            with torch.profiler.record_function('phase: whole step'):
                model.train_step(data, wrapper)
    events = prof.key_averages()
    ms = 1.0 / (1000.0 * iters)  # profiler times are microseconds: ms per step
    phase_ms = {e.key[len('phase: '):]: e.cpu_time_total * ms
                for e in events if e.key in phases + ['phase: whole step']}
    ops = sorted((e for e in events if not e.key.startswith('phase: ')),
                 key=lambda e: e.self_cpu_time_total, reverse=True)
    return dict(phases_ms=phase_ms,
                ops_ms={e.key: dict(self_ms=e.self_cpu_time_total * ms,
                                    calls=e.count / iters) for e in ops[:top]},
                threads=torch.get_num_threads())


def main(argv=None) -> Dict:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--pair', default='resnet56:resnet20',
                        help='teacher:student of the CIFAR-100 configs')
    parser.add_argument('--variants', nargs='+', default=['kd', 'reviewkd'],
                        help='variants of tools/analysis_tools/benchmark_step.py')
    parser.add_argument('--batch', type=int, default=64)
    parser.add_argument('--iters', type=int, default=5)
    parser.add_argument('--warmup', type=int, default=3)
    parser.add_argument('--top', type=int, default=25, help='operators listed per variant')
    parser.add_argument('--amp', action='store_true', help='under bfloat16 autocast')
    parser.add_argument('--out', default='work_dirs/benchmarks/profile.json')
    args = parser.parse_args(argv)
    import torch

    from mmreviewkd.utils import keep_freed_memory
    kept = keep_freed_memory()  # as tools/train.py
    result = dict(settings=dict(pair=args.pair, batch=args.batch, iters=args.iters,
                                warmup=args.warmup, threads=torch.get_num_threads(),
                                torch=torch.__version__, amp=args.amp,
                                keep_freed_memory=kept),
                  variants={})
    for variant in args.variants:
        print(f'[profile_step] {args.pair} {variant} ...', flush=True)
        result['variants'][variant] = profile_variant(args.pair, variant, args.batch,
                                                      args.iters, args.warmup, args.top,
                                                      args.amp)
    print(format_profile(result))
    write_json(result, args.out)
    return result


if __name__ == '__main__':
    main()
