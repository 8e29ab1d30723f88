"""ReviewKD from MMPretrain's ConvNeXt-T and Swin-T into ResNet-18 on ImageNet.

Each config builds (dry forward at 224x224), takes one training step in which only the student
and the ABF chain get gradients, has the parameter counts configs/reviewkd/README.md publishes,
and its teacher is MMPretrain's own model of the same name: that model's state dict loads into
it strictly, as the README's recipe saves it, and gives the same logits and pooled feature.
"""
import copy
import os.path as osp
import re
from typing import NamedTuple, Optional

import pytest
import torch
from mmengine.config import Config
from mmengine.registry import DefaultScope
from mmpretrain.structures import DataSample

from mmreviewkd.experiments.paths import project_root
from mmreviewkd.registry import MODELS

ROOT = project_root()


class Case(NamedTuple):
    """One modern-teacher config and what configs/reviewkd/README.md says about it."""
    config: str
    zoo_name: str  # MMPretrain's model name of the teacher
    zoo_kwargs: dict  # what the README's checkpoint recipe passes to mmpretrain.get_model
    teacher_params: int
    added_teacher_params: int  # parameters the config adds to MMPretrain's model
    student_params: int = 11_689_512  # MMPretrain's ResNet-18 classifier
    # ABF parameters per level, shallow -> deep (the pooled level last)
    abf_params: tuple = (478_402, 953_730, 1_904_386, 3_805_698, 3_803_648)
    abf_total: int = 10_945_864


CASES = {
    'convnext-t': Case('reviewkd_convnext-t_resnet18_in1k.py', 'convnext-tiny_32xb128_in1k', {},
                       teacher_params=28_589_128, added_teacher_params=0),
    # norm0-norm2: 2 * (96 + 192 + 384)
    'swin-t': Case('reviewkd_swin-t_resnet18_in1k.py', 'swin-tiny_16xb64_in1k',
                   dict(backbone=dict(out_indices=(0, 1, 2, 3))),
                   teacher_params=28_289_698, added_teacher_params=1_344),
}
STUDENT_SHAPES = [(64, 56, 56), (128, 28, 28), (256, 14, 14), (512, 7, 7), (512, 1, 1)]
TEACHER_SHAPES = [(96, 56, 56), (192, 28, 28), (384, 14, 14), (768, 7, 7), (768, 1, 1)]
IMAGENET_MEAN = [123.675, 116.28, 103.53]
IMAGENET_STD = [58.395, 57.12, 57.375]


def build(case: Case, teacher_ckpt: Optional[str] = None):
    """Build the config's distillation model with ``teacher_ckpt`` in place of its own.

    Args:
        case (Case): The config to build.
        teacher_ckpt (str, optional): Teacher checkpoint; None builds a random teacher.

    Returns:
        ReviewKDDistill: The built model.
    """
    cfg = Config.fromfile(osp.join(ROOT, 'configs', 'reviewkd', case.config))
    model_cfg = copy.deepcopy(cfg.model)
    model_cfg.teacher_ckpt = teacher_ckpt
    with DefaultScope.overwrite_default_scope('mmreviewkd'):
        return MODELS.build(model_cfg)


def count(module: torch.nn.Module) -> int:
    """Number of parameters of ``module``."""
    return sum(p.numel() for p in module.parameters())


@pytest.fixture(scope='module', params=sorted(CASES))
def case_and_model(request):
    """Each config built once with a random teacher, shared by the tests that do not load."""
    torch.manual_seed(0)
    case = CASES[request.param]
    return case, build(case)


def test_config_records_four_stage_maps_and_the_pooled_feature_on_both_sides(case_and_model):
    _, model = case_and_model
    assert model.feature_shapes['review'] == dict(student=STUDENT_SHAPES, teacher=TEACHER_SHAPES)
    assert model.distiller.connectors['review'].mid_channels == 512


def test_published_abf_teacher_and_student_parameter_counts_match_the_built_model(
        case_and_model):
    case, model = case_and_model
    connector = model.distiller.connectors['review']
    assert tuple(count(abf) for abf in connector.abfs) == case.abf_params
    assert count(connector) == sum(case.abf_params) == case.abf_total
    assert count(model.teacher) == case.teacher_params
    assert count(model.student) == case.student_params


def test_teacher_sees_the_students_imagenet_normalisation(case_and_model):
    _, model = case_and_model
    dp = model.data_preprocessor
    assert dp.mean.flatten().tolist() == pytest.approx(IMAGENET_MEAN)
    assert dp.std.flatten().tolist() == pytest.approx(IMAGENET_STD)
    assert dp.to_rgb
    assert model.teacher_normalization is None  # no teacher_preprocess: same inputs


def test_one_step_gives_finite_hcl_and_grads_to_student_and_abfs_but_not_teacher(
        case_and_model):
    _, model = case_and_model
    torch.manual_seed(0)
    images = list(torch.randint(0, 256, (2, 3, 224, 224), dtype=torch.uint8))
    samples = [DataSample().set_gt_label(label) for label in (3, 7)]
    data = model.data_preprocessor(dict(inputs=images, data_samples=samples), True)
    model.train()
    model.zero_grad(set_to_none=True)
    losses = model(data['inputs'], data['data_samples'], mode='loss')
    assert set(losses) == {'student.loss', 'distill.loss_hcl'}
    assert all(torch.isfinite(v) for v in losses.values())
    sum(losses.values()).backward()
    abfs = model.distiller.connectors['review']
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in abfs.parameters())
    assert all(p.grad is not None for p in model.student.parameters())
    assert all(p.grad is None and not p.requires_grad for p in model.teacher.parameters())
    assert not model.teacher.training


@pytest.mark.parametrize('name', sorted(CASES))
def test_readme_publishes_the_counts_checked_here(name):
    """configs/reviewkd/README.md's table row and ABF breakdown are this file's numbers, which
    the tests above check against the built models."""
    case = CASES[name]
    with open(osp.join(ROOT, 'configs', 'reviewkd', 'README.md'), encoding='utf-8') as f:
        readme = f.read()
    row = re.search(r'^\|[^|\n]*\| \[config\]\(' + re.escape(case.config) +
                    r'\) \|([^\n]*)\|$', readme, re.M)
    assert row is not None, f'no README row for {case.config}'
    published = [int(cell.replace(',', '')) for cell in row.group(1).split('|')]
    assert published == [case.teacher_params, case.student_params, case.abf_total]
    text = ' '.join(readme.split())  # independent of the line wrapping
    stages = ' + '.join(f'{n:,}' for n in case.abf_params[:-1])
    assert f'{stages} params' in text and f'{case.abf_params[-1]:,} for the pooled' in text
    if case.added_teacher_params:
        assert f'is {case.added_teacher_params:,} more than' in text


@pytest.mark.parametrize('name', sorted(CASES))
def test_teacher_loads_mmpretrains_model_strictly_and_keeps_its_logits(name, tmp_path):
    """The README's recipe (``mmpretrain.get_model`` + ``torch.save(state_dict)``), with
    random instead of pretrained weights: the checkpoint loads strictly, and the teacher's
    logits and recorded pooled level are MMPretrain's model's."""
    from mmpretrain import get_model
    case = CASES[name]
    torch.manual_seed(0)
    zoo = get_model(case.zoo_name, **case.zoo_kwargs)  # architecture only, no download
    assert count(zoo) == case.teacher_params
    plain = get_model(case.zoo_name) if case.zoo_kwargs else zoo  # MMPretrain's own settings
    assert count(plain) == case.teacher_params - case.added_teacher_params
    with torch.no_grad():
        for p in zoo.parameters():  # move every weight off its initial value
            p.add_(torch.randn_like(p) * 0.02)
    ckpt = str(tmp_path / 'teacher.pth')
    torch.save(zoo.state_dict(), ckpt)
    model = build(case, teacher_ckpt=ckpt)

    for key in ('mean', 'std'):
        assert torch.equal(getattr(model.data_preprocessor, key),
                           getattr(zoo.data_preprocessor, key))
    assert model.data_preprocessor.to_rgb == zoo.data_preprocessor.to_rgb
    x = model.data_preprocessor(
        dict(inputs=list(torch.randint(0, 256, (1, 3, 224, 224), dtype=torch.uint8)),
             data_samples=[DataSample()]), False)['inputs']
    zoo.eval()
    recorder = model.distiller.teacher_recorders.get_recorder('feats')
    with torch.no_grad():
        expected_logits = zoo(x, mode='tensor')
        expected_pooled = zoo.head.pre_logits(zoo.extract_feat(x))
        with model.distiller.teacher_recorders:
            logits = model.teacher(x, mode='tensor')
        levels = recorder.get_record_data()
    assert torch.allclose(logits, expected_logits, rtol=1e-4, atol=1e-4)
    assert [tuple(t.shape[1:]) for t in levels] == TEACHER_SHAPES
    assert torch.allclose(levels[-1].flatten(1), expected_pooled, rtol=1e-4, atol=1e-4)
