# Classic KD with an even CE / KD mix at a lower temperature: 0.5 * CE + 0.5 * tau^2 * KL,
# tau = 2. A candidate for short schedules (sharper teacher targets than tau = 4).
_base_ = ['./kd_a05_resnet56_resnet20_fmnist.py']

model = dict(distiller=dict(distill_losses=dict(loss_kl=dict(tau=2))))
