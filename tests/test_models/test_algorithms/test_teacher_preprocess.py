"""Teacher and student may normalise differently: the teacher gets its own normalisation."""
import pytest
import torch
from mmdet.testing import demo_mm_inputs
from mmengine.registry import DefaultScope

from mmreviewkd.registry import MODELS


def retinanet(depth):
    return dict(
        _scope_='mmdet', type='RetinaNet',
        data_preprocessor=dict(type='DetDataPreprocessor', mean=[123.675, 116.28, 103.53],
                               std=[58.395, 57.12, 57.375], bgr_to_rgb=True,
                               pad_size_divisor=32),
        backbone=dict(type='ResNet', depth=depth, num_stages=4, out_indices=(0, 1, 2, 3),
                      norm_cfg=dict(type='BN', requires_grad=True), style='pytorch'),
        neck=dict(type='FPN', in_channels=[64, 128, 256, 512], out_channels=32,
                  start_level=1, add_extra_convs='on_input', num_outs=5),
        bbox_head=dict(type='RetinaHead', num_classes=10, in_channels=32, feat_channels=32,
                       stacked_convs=1,
                       anchor_generator=dict(type='AnchorGenerator', octave_base_scale=4,
                                             scales_per_octave=3, ratios=[0.5, 1.0, 2.0],
                                             strides=[8, 16, 32, 64, 128]),
                       bbox_coder=dict(type='DeltaXYWHBBoxCoder'),
                       loss_cls=dict(type='FocalLoss', use_sigmoid=True, gamma=2.0, alpha=0.25,
                                     loss_weight=1.0),
                       loss_bbox=dict(type='L1Loss', loss_weight=1.0)),
        train_cfg=dict(assigner=dict(type='MaxIoUAssigner', pos_iou_thr=0.5, neg_iou_thr=0.4,
                                     min_pos_iou=0, ignore_iof_thr=-1),
                       sampler=dict(type='PseudoSampler'), allowed_border=-1, pos_weight=-1,
                       debug=False),
        test_cfg=dict(nms_pre=100, min_bbox_size=0, score_thr=0.05,
                      nms=dict(type='nms', iou_threshold=0.5), max_per_img=10))


CAFFE = dict(mean=[103.53, 116.28, 123.675], std=[1.0, 1.0, 1.0], bgr_to_rgb=False)


def fpn_reviewkd(student, teacher, **kwargs):
    """ReviewKD on the FPN outputs of two detectors."""
    fpn = dict(type='StageFeatures', source='neck', pooled_source=None)
    return dict(
        type='ReviewKDDistill', architecture=student, teacher=teacher, input_shape=(3, 64, 64),
        distiller=dict(
            type='ConfigurableDistiller', student_recorders=dict(fpn=fpn),
            teacher_recorders=dict(fpn=fpn),
            connectors=dict(review=dict(type='ReviewKDConnector')),
            distill_losses=dict(loss_hcl=dict(type='HCLLoss')),
            loss_forward_mappings=dict(loss_hcl=dict(
                s_feats=dict(from_student=True, recorder='fpn', connector='review'),
                t_feats=dict(from_student=False, recorder='fpn')))),
        **kwargs)


def test_teacher_receives_its_own_normalisation():
    cfg = fpn_reviewkd(retinanet(18), retinanet(18), teacher_preprocess=CAFFE)
    with DefaultScope.overwrite_default_scope('mmreviewkd'):
        algo = MODELS.build(cfg)
    packed = demo_mm_inputs(2, [(3, 64, 64), (3, 48, 64)], num_items=[2, 1])
    raw = [img.float() for img in packed['inputs']]  # BGR uint8 images as loaded
    seen = {}
    algo.teacher.backbone.register_forward_pre_hook(lambda m, a: seen.setdefault('t', a[0]))
    algo.student.backbone.register_forward_pre_hook(lambda m, a: seen.setdefault('s', a[0]))
    data = algo.data_preprocessor(packed, True)
    algo.train()
    algo.loss(data['inputs'], data['data_samples'])
    mean = torch.tensor(CAFFE['mean']).view(3, 1, 1)
    for i, img in enumerate(raw):
        h, w = img.shape[1:]
        # the teacher: caffe-style BGR, padding 0
        torch.testing.assert_close(seen['t'][i, :, :h, :w], img - mean, rtol=1e-4, atol=1e-3)
        assert (seen['t'][i, :, h:, :] == 0).all() and (seen['t'][i, :, :, w:] == 0).all()
        # the student: pytorch-style RGB
        rgb = img.flip(0)
        s_ref = (rgb - torch.tensor([123.675, 116.28, 103.53]).view(3, 1, 1)) / torch.tensor(
            [58.395, 57.12, 57.375]).view(3, 1, 1)
        torch.testing.assert_close(seen['s'][i, :, :h, :w], s_ref, rtol=1e-4, atol=1e-4)


def test_without_teacher_preprocess_the_teacher_sees_the_student_inputs():
    cfg = dict(type='ReviewKDDistill', architecture=retinanet(18), teacher=retinanet(18),
               input_shape=(3, 64, 64), distiller=dict(type='ConfigurableDistiller'))
    with DefaultScope.overwrite_default_scope('mmreviewkd'):
        algo = MODELS.build(cfg)
    x = torch.randn(2, 3, 64, 64)
    assert algo.teacher_inputs(x) is x


def test_fpn_level_count_mismatch_names_num_outs_not_out_indices():
    student = retinanet(18)
    student['neck']['num_outs'] = 3
    student['bbox_head']['anchor_generator']['strides'] = [8, 16, 32]
    cfg = fpn_reviewkd(student, retinanet(18))
    with DefaultScope.overwrite_default_scope('mmreviewkd'):
        with pytest.raises(ValueError, match=r'records 3 feature levels') as err:
            MODELS.build(cfg)
    msg = str(err.value)
    assert '`model.architecture.neck.num_outs`' in msg and '`model.teacher.neck.num_outs`' in msg
    assert 'out_indices' not in msg
