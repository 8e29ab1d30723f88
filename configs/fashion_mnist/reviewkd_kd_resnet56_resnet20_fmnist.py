# ReviewKD + KD: the HCL feature loss plus MMRazor's KLDivergence on the logits (tau 4,
# weight 0.9, the classic-KD config's values) on top of the ReviewKD config.
_base_ = ['./reviewkd_resnet56_resnet20_fmnist.py']

model = dict(
    distiller=dict(
        student_recorders=dict(fc=dict(type='ModuleOutputs', source='head.fc')),
        teacher_recorders=dict(fc=dict(type='ModuleOutputs', source='head.fc')),
        distill_losses=dict(loss_kl=dict(type='KLDivergence', tau=4, loss_weight=0.9)),
        loss_forward_mappings=dict(
            loss_kl=dict(
                preds_S=dict(from_student=True, recorder='fc'),
                preds_T=dict(from_student=False, recorder='fc')))))
# the warm-up applies to the feature loss only
custom_hooks = [dict(type='DistillLossWarmupHook', warmup=1, by_epoch=True,
                     loss_names=['loss_hcl'])]
