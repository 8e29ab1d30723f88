# TSKD with an even CE / teacher-KD mix for every exit (0.5 / 0.5 at T = 4; self-distillation
# terms as the default config): the TSKD counterpart of
# ../fashion_mnist/kd_a05_resnet56_resnet20_fmnist.py, a candidate for short schedules.
_base_ = ['./tskd_resnet56_resnet20_fmnist.py']

model = dict(tskd_loss=dict(ce_weight=0.5, teacher_kd_weight=0.5))
