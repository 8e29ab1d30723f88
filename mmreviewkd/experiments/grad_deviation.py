"""How far each speed option moves ReviewKD's loss and gradients (``grad_deviation.py`` in
``tools/analysis_tools/``): one training step of the committed R56 -> R20 CIFAR-100 config with
random weights (the teacher's BatchNorm statistics drawn away from identity, so that
``teacher_fold_bn`` is exercised), every option alone and all defaults together (and under
bf16 autocast), against the official formulation in fp32 and in float64."""
import copy
from typing import Dict, List, Optional

from .step_models import build, fake_batch, model_cfg

# every option off: the official formulation in the default memory format
OFFICIAL = dict(connector=dict(split_attention=False, fused_ops=False, compute_dtype='float32'),
                hcl=dict(nested_pools=False, fused_ops=False),
                model=dict(channels_last=False, teacher_fold_bn=False))
DEFAULTS = dict(connector=dict(split_attention=True, fused_ops=True),
                hcl=dict(nested_pools=True, fused_ops=True),
                model=dict(channels_last=True, teacher_fold_bn=True))
VARIANTS: Dict[str, dict] = {
    'official (fp32)': {},
    'split_attention': dict(connector=dict(split_attention=True)),
    'fused_ops': dict(connector=dict(fused_ops=True)),
    'nested_pools': dict(hcl=dict(nested_pools=True)),
    'HCL fused_ops (with nested_pools)': dict(hcl=dict(nested_pools=True, fused_ops=True)),
    'channels_last': dict(model=dict(channels_last=True)),
    'teacher_fold_bn': dict(model=dict(teacher_fold_bn=True)),
    "teacher_grad_mode='inference_mode'": dict(model=dict(teacher_grad_mode='inference_mode')),
    "compute_dtype='bfloat16' (the review path)": dict(connector=dict(compute_dtype='bfloat16')),
    'defaults, review path in float32 (all of the above but inference_mode)': DEFAULTS,
    "defaults (+ compute_dtype='bfloat16', what 'auto' gives on an AMX / AVX512-BF16 CPU)":
        dict(DEFAULTS, connector=dict(DEFAULTS['connector'], compute_dtype='bfloat16')),
    'defaults + bf16 autocast (--amp)': dict(DEFAULTS, amp=True),
}


def variant_cfg(teacher: str, student: str, change: dict) -> dict:
    """The ReviewKD model config with the official settings updated by ``change``."""
    cfg = model_cfg('reviewkd', teacher, student)
    distiller = cfg['distiller']
    for part, target in (('connector', distiller['connectors']['review']),
                         ('hcl', distiller['distill_losses']['loss_hcl']), ('model', cfg)):
        target.update(OFFICIAL[part], **change.get(part, {}))
    return cfg


def losses_and_grads(model, state: dict, inputs, samples, amp: bool = False):
    """The summed loss and every trainable gradient (float64, flattened) of one step."""
    import torch
    model.load_state_dict(state)
    model.train()
    model.zero_grad()
    with torch.autocast('cpu', dtype=torch.bfloat16, enabled=amp):
        losses = model(inputs.to(next(model.parameters()).dtype), samples, mode='loss')
        loss = sum(losses.values())
    loss.backward()
    grads = torch.cat([p.grad.detach().double().flatten() for p in model.parameters()
                       if p.requires_grad and p.grad is not None])
    return float(loss.detach().double()), grads


def measure(teacher: str = 'resnet56', student: str = 'resnet20', batch: int = 16,
            variants: Optional[List[str]] = None) -> Dict:
    """Relative L2 deviation of each variant's gradient vector (and relative loss difference)
    against the official formulation in float64 and in fp32."""
    import torch
    torch.manual_seed(0)
    reference = build(variant_cfg(teacher, student, {}))
    with torch.no_grad():  # teacher BatchNorms away from identity, as a trained teacher's are
        for bn in reference.teacher.modules():
            if isinstance(bn, torch.nn.BatchNorm2d):
                bn.weight.uniform_(0.5, 1.5)
                bn.bias.normal_(0, 0.1)
                bn.running_mean.normal_(0, 0.1)
                bn.running_var.uniform_(0.5, 2.0)
    state = copy.deepcopy(reference.state_dict())
    data = reference.data_preprocessor(fake_batch(batch), True)
    inputs, samples = data['inputs'], data['data_samples']
    ref64 = build(variant_cfg(teacher, student, {})).double()
    state64 = {k: v.double() if v.is_floating_point() else v for k, v in state.items()}
    loss64, grads64 = losses_and_grads(ref64, state64, inputs, samples)
    _, grads32 = losses_and_grads(reference, state, inputs, samples)  # official, fp32
    rows = {}
    for name in variants or list(VARIANTS):
        change = VARIANTS[name]
        model = reference if not change else build(variant_cfg(teacher, student, change))
        loss, grads = losses_and_grads(model, state, inputs, samples, change.get('amp', False))
        rows[name] = dict(
            grad_vs_float64=float((grads - grads64).norm() / grads64.norm()),
            grad_vs_official_fp32=float((grads - grads32).norm() / grads32.norm()),
            loss_vs_float64=abs(loss - loss64) / abs(loss64))
        print(f'{name}: {rows[name]}', flush=True)
    return dict(settings=dict(pair=f'{teacher}:{student}', batch=batch,
                              threads=torch.get_num_threads(),
                              torch=torch.__version__, input='3x32x32 random, 100 classes',
                              params=int(grads64.numel())),
                variants=rows)
