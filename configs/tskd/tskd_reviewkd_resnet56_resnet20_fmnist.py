# TSKD + ReviewKD on Fashion-MNIST: the TSKD config plus ReviewKD's ABF + HCL from the teacher's
# stages to the student's backbone stages (weight 0.6, as in the R56 -> R20 ReviewKD config).
_base_ = ['./tskd_resnet56_resnet20_fmnist.py']

model = dict(
    distiller=dict(
        type='ConfigurableDistiller',
        student_recorders=dict(feats=dict(type='StageFeatures')),
        teacher_recorders=dict(feats=dict(type='StageFeatures', preact=True)),
        connectors=dict(review=dict(type='ReviewKDConnector')),
        distill_losses=dict(loss_hcl=dict(type='HCLLoss', loss_weight=0.6)),
        loss_forward_mappings=dict(
            loss_hcl=dict(
                s_feats=dict(from_student=True, recorder='feats', connector='review'),
                t_feats=dict(from_student=False, recorder='feats')))))
custom_hooks = [dict(type='DistillLossWarmupHook', warmup=1, by_epoch=True)]
