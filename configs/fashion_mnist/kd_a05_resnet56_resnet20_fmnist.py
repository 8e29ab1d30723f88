# Classic KD with an even CE / KD mix: 0.5 * CE + 0.5 * tau^2 * KL, tau = 4 (Hinton et al. 2015
# leave the mix open; the RepDistiller recipe in kd_resnet56_resnet20_fmnist.py uses 0.1 / 0.9).
# A candidate for short schedules, where the label term's weight matters most.
_base_ = ['./kd_resnet56_resnet20_fmnist.py']

model = dict(
    architecture=dict(head=dict(loss=dict(loss_weight=0.5))),
    distiller=dict(distill_losses=dict(loss_kl=dict(loss_weight=0.5))))
