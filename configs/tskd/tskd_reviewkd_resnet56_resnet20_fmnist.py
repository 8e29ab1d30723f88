# TSKD + ReviewKD on Fashion-MNIST: the TSKD config plus ReviewKD's ABF + HCL from the teacher's
# stages to the student's backbone stages (weight 0.6, as in the R56 -> R20 ReviewKD config).
_base_ = ['./tskd_resnet56_resnet20_fmnist.py', '../_base_/distillers/reviewkd.py']

model = dict(
    distiller=dict(
        _base_.reviewkd_distiller,
        teacher_recorders=dict(feats=dict(type='StageFeatures', preact=True)),
        distill_losses=dict(loss_hcl=dict(type='HCLLoss', loss_weight=0.6))))
custom_hooks = [dict(type='DistillLossWarmupHook', warmup=1, by_epoch=True)]
