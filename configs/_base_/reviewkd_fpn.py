# ReviewKD on the FPN outputs of any MMDet detector (DESIGN.md §2): every neck level is recorded
# (no pooled level), reviewed by 256-channel ABFs (in = mid = out = 256, inferred) and matched by
# HCL. The detection heads keep using the student's own FPN outputs. Used as
# `_base_.reviewkd_fpn_distiller` by the detection configs.
reviewkd_fpn_distiller = dict(
    type='mmrazor.ConfigurableDistiller',
    student_recorders=dict(fpn=dict(type='mmreviewkd.StageFeatures', source='neck',
                                    pooled_source=None)),
    teacher_recorders=dict(fpn=dict(type='mmreviewkd.StageFeatures', source='neck',
                                    pooled_source=None)),
    connectors=dict(review=dict(type='mmreviewkd.ReviewKDConnector', mid_channels=256)),
    distill_losses=dict(loss_hcl=dict(type='mmreviewkd.HCLLoss', loss_weight=1.0)),
    loss_forward_mappings=dict(
        loss_hcl=dict(
            s_feats=dict(from_student=True, recorder='fpn', connector='review'),
            t_feats=dict(from_student=False, recorder='fpn'))))
