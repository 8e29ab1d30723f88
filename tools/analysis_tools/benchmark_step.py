"""Training-step cost of the distillation methods, our wiring vs. a hand-written loop, speed-ups.

    python tools/analysis_tools/benchmark_step.py [--pairs resnet56:resnet20 ...] [--batch 64]
        [--iters 10] [--warmup 3] [--no-compile] [--out work_dirs/benchmarks/step.json]

For each teacher -> student pair of the CIFAR-100 configs (32x32 random data, 100 classes) the
models are built from the committed configs (``configs/cifar100/<student>_cifar100.py``,
``configs/reviewkd/reviewkd_<t>_<s>_cifar100.py``, ``configs/tskd/tskd_<t>_<s>_cifar100.py``;
KD is the ReviewKD pair config with the distiller of
``configs/fashion_mnist/kd_resnet56_resnet20_fmnist.py``) and one optimisation step is timed
through the machinery of ``tools/train.py`` (MMEngine ``train_step`` + ``OptimWrapper``, MMRazor
recorders). Variants:

* ``student`` (as configured, contiguous) and ``student_channels_last``;
* ``kd``, ``reviewkd`` and ``tskd`` with the algorithms' defaults (``channels_last`` for
  classifiers, split-attention ABF);
* ``reviewkd_reference``: the official formulation and memory format (concat attention,
  contiguous, unfused ABF ops, HCL pools from the full map), i.e. every speed-up off;
  ``reviewkd_split_only``: + split attention; ``reviewkd_unfused``: + ``channels_last`` (the
  defaults before the fused ABF ops and nested HCL pools); ``reviewkd_float32``: the defaults
  with the review path in float32 (``compute_dtype='float32'``; ``reviewkd`` has the configs'
  ``'auto'``, bfloat16 on a CPU with AMX-BF16 / AVX512-BF16);
  ``reviewkd_inference_mode``: the teacher under ``torch.inference_mode``;
  ``reviewkd_compiled``: ``torch.compile`` of the connector (skipped with ``--no-compile``);
* a minimal hand-written PyTorch loop of the ReviewKD math (teacher forward in the algorithm's
  no-grad context, its BatchNorms folded as the variant sets,
  student forward, ABF chain, HCL, backward, SGD step; no MMEngine, no recorders), run in the
  same process on the *same* modules and batch as ``reviewkd`` and ``reviewkd_reference``
  (timed alternately with them, median of 5 rounds each, so drifts of the machine hit both).

Every figure is the median of 5 rounds of ``--iters`` steps (rounds on this shared 2-core
machine spread by about +-15 %). Every variant runs in its own process, so its peak memory is
its own: the script reports the
peak resident memory the steps add on top of the built model (Linux ``VmHWM`` after resetting
it through ``/proc/self/clear_refs``) besides seconds per step, the ratio to the student-alone
step and the extra training parameters. Figures are printed and saved as JSON; nothing is
asserted.
"""
import argparse
import json
import os.path as osp
import statistics
from typing import Dict, List, Optional

from mmreviewkd.experiments.benchmark_tables import STEP_ROUNDS, format_step_pair, step_ratios
from mmreviewkd.experiments.json_io import write_json
from mmreviewkd.experiments.step_models import (VARIANTS, build, config_path, fake_batch,
                                                review_path_setting,
                                                mmengine_stepper, model_cfg, run_step_worker,
                                                seconds_per_step, to_channels_last)

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


def handwritten_stepper(model, batch: int):
    """The ReviewKD math in a plain PyTorch loop on the modules of ``model`` (no MMEngine; the
    teacher runs in the algorithm's ``teacher_grad_context``, BatchNorms folded if the variant
    folds them, so the comparison measures the framework, not the options)."""
    import torch
    import torch.nn.functional as F

    student, teacher = model.student, model.teacher
    conn = model.distiller.connectors['review']
    hcl = model.distiller.distill_losses['loss_hcl']  # its weight and pooling option
    t_sources = [dict(teacher.backbone.named_modules())[n]
                 for n in teacher.backbone.preact_sources()]
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.SGD(params, lr=0.01, momentum=0.9)
    data = model.data_preprocessor(fake_batch(batch), True)
    x = data['inputs']
    if model.channels_last:
        x = x.contiguous(memory_format=torch.channels_last)
    y = torch.cat([s.gt_label for s in data['data_samples']])
    grabbed: List = []

    def grab(module, inputs, output):
        grabbed.append(inputs[0])

    def step():
        grabbed.clear()
        hooks = [m.register_forward_hook(grab) for m in t_sources]
        with model.teacher_grad_context():  # no_grad, the teacher's BatchNorms folded if set
            t_stages = teacher.backbone(x)
        for h in hooks:
            h.remove()
        t_feats = list(grabbed) + [t_stages[-1].mean((2, 3), keepdim=True)]
        s_stages = student.backbone(x)
        pooled = s_stages[-1].mean((2, 3))
        logits = student.head.fc(pooled)
        s_feats = list(s_stages) + [pooled[:, :, None, None]]
        loss = F.cross_entropy(logits, y) + hcl(conn(s_feats), t_feats)
        opt.zero_grad()
        loss.backward()
        opt.step()
    return step


def _status_mb(field: str) -> float:
    with open('/proc/self/status') as f:
        for line in f:
            if line.startswith(field + ':'):
                return int(line.split()[1]) / 1024
    return float('nan')


def _reset_peak() -> bool:
    try:
        with open('/proc/self/clear_refs', 'w') as f:
            f.write('5')  # resets VmHWM (peak RSS) to the current RSS
        return True
    except OSError:
        return False


def worker(pair: str, variant: str, batch: int, iters: int, warmup: int,
           threads: Optional[int], amp: bool = False) -> Dict:
    """Build one variant and time it (in this process, which keeps freed memory as
    tools/train.py does); returns the figures."""
    import torch

    from mmreviewkd.utils import keep_freed_memory
    keep_freed_memory()
    if threads:
        torch.set_num_threads(threads)
    teacher, student = pair.split(':')
    cfg = model_cfg(variant, teacher, student)
    if cfg is None:
        missing = osp.relpath(config_path(variant, teacher, student), ROOT)
        return dict(skipped=f'no config {missing}')
    torch.manual_seed(0)
    model = build(cfg)
    if variant == 'student_channels_last':
        to_channels_last(model)
    n_student = sum(p.numel() for p in (model.student if hasattr(model, 'student') else model)
                    .parameters() if p.requires_grad)
    # the student proper: for TSKD the exits are extra
    if variant == 'tskd':
        n_student -= sum(p.numel() for n, p in model.student.named_parameters()
                         if n.startswith('exits.'))
    out = dict(config=osp.relpath(config_path(variant, teacher, student), ROOT),
               extra_params=sum(p.numel() for p in model.parameters() if p.requires_grad) -
               n_student)
    step = mmengine_stepper(model, batch, amp)
    rss0 = _status_mb('VmRSS')
    exact_peak = _reset_peak()
    out['s_per_step'] = seconds_per_step(step, iters, warmup)
    out['step_peak_mb'] = _status_mb('VmHWM') - rss0 if exact_peak else float('nan')
    out['peak_rss_mb'] = _status_mb('VmHWM')
    if variant not in ('reviewkd', 'reviewkd_reference'):
        times = [out['s_per_step']] + [seconds_per_step(step, iters, 1)
                                       for _ in range(STEP_ROUNDS - 1)]
        out['s_per_step'] = statistics.median(times)
        out['rounds'] = dict(ours=times)
    if variant in ('reviewkd', 'reviewkd_reference'):
        # ours and the hand-written loop alternately on the same modules and batch (A B A B ..),
        # median of ``STEP_ROUNDS`` rounds each: drifts of the machine hit both
        hand = handwritten_stepper(model, batch)
        ours_times, hand_times = [out['s_per_step']], []
        for r in range(STEP_ROUNDS):
            hand_times.append(seconds_per_step(hand, iters, warmup if r == 0 else 1))
            if r < STEP_ROUNDS - 1:
                ours_times.append(seconds_per_step(step, iters, 1))
        out['s_per_step'] = statistics.median(ours_times)
        out['handwritten_s_per_step'] = statistics.median(hand_times)
        out['rounds'] = dict(ours=ours_times, handwritten=hand_times)
    return out


def run_variant(pair: str, variant: str, args) -> Dict:
    """One variant timed by this script's worker in a fresh process."""
    return run_step_worker(ROOT, pair, variant, args.batch, args.iters, args.warmup,
                           args.threads, args.amp)


def main(argv=None) -> Dict:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--pairs', nargs='+', default=['resnet56:resnet20',
                                                       'resnet32x4:resnet8x4'],
                        help='teacher:student names of the CIFAR-100 configs')
    parser.add_argument('--variants', nargs='+', default=VARIANTS, choices=VARIANTS)
    parser.add_argument('--batch', type=int, default=64)
    parser.add_argument('--iters', type=int, default=10)
    parser.add_argument('--warmup', type=int, default=3)
    parser.add_argument('--threads', type=int, default=None)
    parser.add_argument('--no-compile', action='store_true',
                        help='skip reviewkd_compiled (its compilation takes about a minute)')
    parser.add_argument('--overhead-batch', type=int, default=2,
                        help='also time ours vs. the hand-written loop at this tiny batch, where '
                        'the per-step overhead of the framework is visible (0: skip)')
    parser.add_argument('--out', default='work_dirs/benchmarks/step.json')
    parser.add_argument('--append', action='store_true',
                        help='add these pairs to an existing --out (e.g. a heavier pair measured '
                        'with fewer --iters); each pair keeps its own settings')
    parser.add_argument('--amp', action='store_true',
                        help='every variant under bfloat16 autocast (CPUAmpOptimWrapper, as '
                        'tools/train.py --amp on CPU); the hand-written loop stays fp32')
    parser.add_argument('--worker', nargs=2, metavar=('PAIR', 'VARIANT'), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        print(json.dumps(worker(*args.worker, args.batch, args.iters, args.warmup,
                                args.threads, args.amp)))
        return {}
    import torch
    variants = [v for v in args.variants if not (args.no_compile and v == 'reviewkd_compiled')]
    results = dict(settings=dict(batch=args.batch, iters=args.iters, warmup=args.warmup,
                                 threads=args.threads or torch.get_num_threads(),
                                 torch=torch.__version__, input='3x32x32 random, 100 classes',
                                 amp='bfloat16 autocast' if args.amp else 'fp32',
                                 review_path=review_path_setting()),
                   pairs={})
    for pair in args.pairs:
        row = {}
        for variant in variants:
            print(f'[benchmark_step] {pair} {variant} ...', flush=True)
            row[variant] = run_variant(pair, variant, args)
        row = {k: v for k, v in row.items() if 'skipped' not in v}
        if 'student' in row:
            ref = row['student']['s_per_step']
            for r in row.values():
                r['ratio_to_student'] = r['s_per_step'] / ref
        results['pairs'][pair] = dict(variants=row, ratios=step_ratios(row),
                                      settings=dict(results['settings']))
        print(format_step_pair(pair, results['pairs'][pair]), flush=True)
    if args.overhead_batch:
        # at a tiny batch the ops cost little and the per-step overhead of the framework shows
        pair = args.pairs[0]
        print(f'[benchmark_step] {pair} reviewkd at batch {args.overhead_batch} ...', flush=True)
        tiny = run_variant(pair, 'reviewkd', argparse.Namespace(
            **dict(vars(args), batch=args.overhead_batch, iters=max(args.iters, 20))))
        results['overhead'] = dict(
            pair=pair, batch=args.overhead_batch, ours_s_per_step=tiny['s_per_step'],
            handwritten_s_per_step=tiny['handwritten_s_per_step'],
            ms_per_step=(tiny['s_per_step'] - tiny['handwritten_s_per_step']) * 1e3)
        print(f'framework overhead at batch {args.overhead_batch}: '
              f'{results["overhead"]["ms_per_step"]:.1f} ms per step', flush=True)
    if args.append and osp.isfile(args.out):
        with open(args.out) as f:
            earlier = json.load(f)
        earlier['pairs'].update(results['pairs'])
        results = dict(earlier, **{k: v for k, v in results.items() if k != 'pairs'},
                       pairs=earlier['pairs'])
    write_json(results, args.out)
    return results


if __name__ == '__main__':
    main()
