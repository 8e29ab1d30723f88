# ReviewKD + KD on CIFAR-100 (an option, not in the paper's tables): the official R56 -> R20
# ReviewKD config plus MMRazor's KLDivergence on the logits (tau 4, weight 0.9).
_base_ = ['./reviewkd_resnet56_resnet20_cifar100.py', '../_base_/distillers/kd.py']

model = dict(distiller=_base_.kd_distiller)  # merged into the ReviewKD distiller
custom_hooks = [dict(type='mmreviewkd.DistillLossWarmupHook', warmup=20, by_epoch=True,
                     loss_names=['loss_hcl'])]
