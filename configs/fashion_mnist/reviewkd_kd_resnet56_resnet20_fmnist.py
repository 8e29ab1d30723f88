# ReviewKD + KD: the HCL feature loss plus MMRazor's KLDivergence on the logits (tau 4,
# weight 0.9, the classic-KD config's values) on top of the ReviewKD config.
_base_ = ['./reviewkd_resnet56_resnet20_fmnist.py', '../_base_/distillers/kd.py']

model = dict(distiller=_base_.kd_distiller)  # merged into the ReviewKD distiller
# the warm-up applies to the feature loss only
custom_hooks = [dict(type='DistillLossWarmupHook', warmup=1, by_epoch=True,
                     loss_names=['loss_hcl'])]
