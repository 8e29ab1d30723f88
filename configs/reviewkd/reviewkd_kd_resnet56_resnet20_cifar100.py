# ReviewKD + KD on CIFAR-100 (an option, not in the paper's tables): the official R56 -> R20
# ReviewKD config plus MMRazor's KLDivergence on the logits (tau 4, weight 0.9).
_base_ = ['./reviewkd_resnet56_resnet20_cifar100.py']

model = dict(
    distiller=dict(
        student_recorders=dict(fc=dict(type='ModuleOutputs', source='head.fc')),
        teacher_recorders=dict(fc=dict(type='ModuleOutputs', source='head.fc')),
        distill_losses=dict(loss_kl=dict(type='KLDivergence', tau=4, loss_weight=0.9)),
        loss_forward_mappings=dict(
            loss_kl=dict(
                preds_S=dict(from_student=True, recorder='fc'),
                preds_T=dict(from_student=False, recorder='fc')))))
custom_hooks = [dict(type='mmreviewkd.DistillLossWarmupHook', warmup=20, by_epoch=True,
                     loss_names=['loss_hcl'])]
