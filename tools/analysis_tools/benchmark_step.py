"""Training-step cost of the distillation methods, and of our wiring vs. a hand-written loop.

    python tools/analysis_tools/benchmark_step.py [--pairs resnet56:resnet20 ...] [--batch 64]
        [--iters 10] [--warmup 3] [--out work_dirs/benchmarks/step.json]

For each teacher -> student pair (CIFAR models, 32x32 random data, 100 classes) it times one
optimisation step of

* the student alone, classic KD, ReviewKD and TSKD through the same machinery as
  ``tools/train.py`` (MMEngine ``train_step`` with an ``OptimWrapper``, MMRazor recorders);
* a minimal hand-written PyTorch loop of the ReviewKD math (teacher forward under no_grad,
  student forward, ABF chain, HCL, backward, SGD step; no MMEngine, no recorders) on the *same*
  modules and batch;
* the ReviewKD step with ``channels_last`` memory format,

and reports seconds per step, each as a ratio to the student-alone step, peak RSS memory, and the
extra training parameters each method adds. Figures are printed and saved as JSON; they are not
asserted anywhere.
"""
import argparse
import copy
import json
import os
import os.path as osp
import resource
import sys
import time

sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))

import mmreviewkd  # noqa: E402,F401


def classifier(name, num_classes=100):
    from mmengine.config import Config
    zoo = Config.fromfile(osp.join(osp.dirname(osp.dirname(osp.dirname(osp.abspath(
        __file__)))), 'configs', '_base_', 'models', 'cifar_zoo.py')).cifar_models
    cfg = copy.deepcopy(zoo[name])
    cfg['head']['num_classes'] = num_classes
    cfg['data_preprocessor'] = dict(type='ClsDataPreprocessor', mean=[125.3, 123.0, 113.9],
                                    std=[63.0, 62.1, 66.7], num_classes=num_classes)
    return cfg


def method_cfg(method, teacher, student):
    s, t = classifier(student), classifier(teacher)
    if method == 'student':
        return s
    base = dict(_scope_='mmreviewkd', data_preprocessor=None, architecture=s, teacher=t,
                input_shape=(3, 32, 32))
    review = dict(
        type='mmrazor.ConfigurableDistiller',
        student_recorders=dict(feats=dict(type='StageFeatures')),
        teacher_recorders=dict(feats=dict(type='StageFeatures', preact=True)),
        connectors=dict(review=dict(type='ReviewKDConnector')),
        distill_losses=dict(loss_hcl=dict(type='HCLLoss', loss_weight=1.0)),
        loss_forward_mappings=dict(loss_hcl=dict(
            s_feats=dict(from_student=True, recorder='feats', connector='review'),
            t_feats=dict(from_student=False, recorder='feats'))))
    if method == 'kd':
        return dict(base, type='ReviewKDDistill', distiller=dict(
            type='mmrazor.ConfigurableDistiller',
            student_recorders=dict(fc=dict(type='ModuleOutputs', source='head.fc')),
            teacher_recorders=dict(fc=dict(type='ModuleOutputs', source='head.fc')),
            distill_losses=dict(loss_kl=dict(type='KLDivergence', tau=4)),
            loss_forward_mappings=dict(loss_kl=dict(
                preds_S=dict(from_student=True, recorder='fc'),
                preds_T=dict(from_student=False, recorder='fc')))))
    if method == 'reviewkd':
        return dict(base, type='ReviewKDDistill', distiller=review)
    if method == 'tskd':
        return dict(base, type='TSKDDistill', architecture=dict(
            s, type='mmreviewkd.MultiExitClassifier', input_shape=(3, 32, 32)))
    raise ValueError(method)


def build(cfg):
    from mmengine.registry import DefaultScope

    from mmreviewkd.registry import MODELS
    with DefaultScope.overwrite_default_scope('mmreviewkd'):
        return MODELS.build(copy.deepcopy(cfg))


def fake_batch(batch, seed=0):
    import torch
    from mmpretrain.structures import DataSample
    g = torch.Generator().manual_seed(seed)
    imgs = [torch.randint(0, 256, (3, 32, 32), generator=g, dtype=torch.uint8)
            for _ in range(batch)]
    return dict(inputs=imgs, data_samples=[DataSample().set_gt_label(i % 100)
                                           for i in range(batch)])


def time_mmengine_step(model, batch, iters, warmup, channels_last=False):
    """Seconds per ``train_step`` (MMEngine's path, as in tools/train.py)."""
    import torch
    from mmengine.optim import OptimWrapper
    model.train()
    if channels_last:
        model.to(memory_format=torch.channels_last)
    params = [p for p in model.parameters() if p.requires_grad]
    wrapper = OptimWrapper(torch.optim.SGD(params, lr=0.01, momentum=0.9))
    data = fake_batch(batch)
    if channels_last:
        dp = model.data_preprocessor
        orig = dp.forward

        def forward(data, training=False):
            out = orig(data, training)
            out['inputs'] = out['inputs'].contiguous(memory_format=torch.channels_last)
            return out
        dp.forward = forward
    for i in range(warmup + iters):
        if i == warmup:
            t0 = time.perf_counter()
        model.train_step(data, wrapper)
    return (time.perf_counter() - t0) / iters


def time_handwritten_reviewkd(model, batch, iters, warmup):
    """The same ReviewKD math in a plain PyTorch loop on the same modules (no MMEngine)."""
    import torch
    import torch.nn.functional as F

    from mmreviewkd.models.losses import hcl_loss
    student, teacher = model.student, model.teacher
    conn = model.distiller.connectors['review']
    weight = model.distiller.distill_losses['loss_hcl'].loss_weight
    t_sources = [dict(teacher.backbone.named_modules())[n]
                 for n in teacher.backbone.preact_sources()]
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.SGD(params, lr=0.01, momentum=0.9)
    data = model.data_preprocessor(fake_batch(batch), True)
    x = data['inputs']
    y = torch.cat([s.gt_label for s in data['data_samples']])
    model.train()
    grabbed = []
    hooks = [m.register_forward_hook(lambda m, i, o: grabbed.append(i[0])) for m in t_sources]
    try:
        for it in range(warmup + iters):
            if it == warmup:
                t0 = time.perf_counter()
            grabbed.clear()
            with torch.no_grad():
                t_stages = teacher.backbone(x)
                t_feats = list(grabbed) + [t_stages[-1].mean((2, 3), keepdim=True)]
            s_stages = student.backbone(x)
            pooled = s_stages[-1].mean((2, 3))
            logits = student.head.fc(pooled)
            s_feats = list(s_stages) + [pooled[:, :, None, None]]
            loss = F.cross_entropy(logits, y) + weight * hcl_loss(conn(s_feats), t_feats)
            opt.zero_grad()
            loss.backward()
            opt.step()
    finally:
        for h in hooks:
            h.remove()
    return (time.perf_counter() - t0) / iters


def extra_params(model, student_params):
    return sum(p.numel() for p in model.parameters() if p.requires_grad) - student_params


def main(argv=None):
    import torch
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--pairs', nargs='+', default=['resnet56:resnet20'],
                        help='teacher:student names from configs/_base_/models/cifar_zoo.py')
    parser.add_argument('--batch', type=int, default=64)
    parser.add_argument('--iters', type=int, default=10)
    parser.add_argument('--warmup', type=int, default=3)
    parser.add_argument('--threads', type=int, default=None)
    parser.add_argument('--out', default='work_dirs/benchmarks/step.json')
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    results = dict(settings=dict(batch=args.batch, iters=args.iters, warmup=args.warmup,
                                 threads=torch.get_num_threads(), torch=torch.__version__),
                   pairs={})
    for pair in args.pairs:
        teacher, student = pair.split(':')
        torch.manual_seed(0)
        row = {}
        base = build(method_cfg('student', teacher, student))
        n_student = sum(p.numel() for p in base.parameters() if p.requires_grad)
        row['student'] = dict(s_per_step=time_mmengine_step(base, args.batch, args.iters,
                                                            args.warmup), extra_params=0)
        for method in ('kd', 'reviewkd', 'tskd'):
            model = build(method_cfg(method, teacher, student))
            row[method] = dict(
                s_per_step=time_mmengine_step(model, args.batch, args.iters, args.warmup),
                extra_params=extra_params(model, n_student))
            if method == 'reviewkd':
                row['reviewkd_handwritten'] = dict(
                    s_per_step=time_handwritten_reviewkd(model, args.batch, args.iters,
                                                         args.warmup),
                    extra_params=row['reviewkd']['extra_params'])
        model = build(method_cfg('reviewkd', teacher, student))
        row['reviewkd_channels_last'] = dict(
            s_per_step=time_mmengine_step(model, args.batch, args.iters, args.warmup,
                                          channels_last=True),
            extra_params=row['reviewkd']['extra_params'])
        ref = row['student']['s_per_step']
        for r in row.values():
            r['ratio_to_student'] = r['s_per_step'] / ref
        row['ours_vs_handwritten'] = (row['reviewkd']['s_per_step'] /
                                      row['reviewkd_handwritten']['s_per_step'])
        row['reviewkd_vs_kd'] = row['reviewkd']['s_per_step'] / row['kd']['s_per_step']
        row['channels_last_speedup'] = (row['reviewkd']['s_per_step'] /
                                        row['reviewkd_channels_last']['s_per_step'])
        results['pairs'][pair] = row
        print(f'\n{teacher} -> {student}, batch {args.batch}, 32x32, '
              f'{torch.get_num_threads()} threads')
        print(f'{"method":<24} {"s/step":>8} {"x student":>10} {"extra params":>13}')
        for name, r in row.items():
            if isinstance(r, dict):
                print(f'{name:<24} {r["s_per_step"]:8.3f} {r["ratio_to_student"]:10.2f} '
                      f'{r["extra_params"]:13,d}')
        print(f'ours / hand-written ReviewKD step: {row["ours_vs_handwritten"]:.3f}; '
              f'ReviewKD / KD: {row["reviewkd_vs_kd"]:.2f}; channels_last speed-up: '
              f'{row["channels_last_speedup"]:.2f}x')
    results['peak_rss_mb'] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    os.makedirs(osp.dirname(osp.abspath(args.out)), exist_ok=True)
    with open(args.out, 'w') as f:
        json.dump(results, f, indent=2)
    print(f'\npeak RSS {results["peak_rss_mb"]:.0f} MB; wrote {args.out}')
    return results


if __name__ == '__main__':
    main()
