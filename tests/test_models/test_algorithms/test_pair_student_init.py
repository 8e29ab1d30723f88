"""``pair_student_init``: with the same seed, a distilled student starts from the weights of the
student trained alone. Modelled as seed, build, ``init_weights`` (the order of MMEngine's
``Runner``; anything the Runner might draw from torch's generator in between is not covered)."""
import os.path as osp

import pytest
import torch
from mmengine.config import Config
from mmengine.registry import DefaultScope
from mmengine.runner import set_random_seed

from mmreviewkd.experiments.paths import project_root
from mmreviewkd.registry import MODELS

CONFIGS = osp.join(project_root(), 'configs')


def initial_student(config: str, scope: str = 'mmreviewkd', **options) -> dict:
    """The student's state dict after seed 0, build and ``init_weights``."""
    cfg = Config.fromfile(osp.join(CONFIGS, config))
    if 'architecture' in cfg.model:
        cfg.model.update(teacher_ckpt=None, **options)
    set_random_seed(0)
    with DefaultScope.overwrite_default_scope(scope):
        model = MODELS.build(cfg.model)
    model.init_weights()
    student = model.student if 'architecture' in cfg.model else model
    return {k: v.clone() for k, v in student.state_dict().items()}


PAIRS = dict(  # student alone, distilled, default scope
    classifier=('fashion_mnist/resnet20_fmnist.py',
                'fashion_mnist/reviewkd_resnet56_resnet20_fmnist.py', 'mmreviewkd'),
    detector=('reviewkd_det/fmnist_coco/faster-rcnn_r18_fpn_fmnistcoco.py',
              'reviewkd_det/fmnist_coco/reviewkd_faster-rcnn_r50_r18_fpn_fmnistcoco.py', 'mmdet'))


@pytest.mark.parametrize('paired', [True, False])
@pytest.mark.parametrize('kind', list(PAIRS))
def test_reviewkd_student_starts_from_the_student_alone_weights_only_when_paired(kind, paired):
    alone_cfg, distilled_cfg, scope = PAIRS[kind]
    alone = initial_student(alone_cfg, scope)
    distilled = initial_student(distilled_cfg, scope, pair_student_init=paired)
    assert alone.keys() == distilled.keys()
    differ = [k for k in alone if not torch.equal(alone[k], distilled[k].to(alone[k].dtype))]
    if paired:
        assert differ == []
    else:  # without the option the teacher's build draws in between: the convs differ
        assert any('conv' in k for k in differ)


def test_pair_student_init_needs_the_architecture_as_a_config():
    from mmreviewkd.models.algorithms.review_kd_distill import ReviewKDDistill
    with pytest.raises(TypeError, match='model.pair_student_init'):
        ReviewKDDistill(architecture=torch.nn.Linear(1, 1), teacher=dict(), distiller=dict(),
                        pair_student_init=True)
