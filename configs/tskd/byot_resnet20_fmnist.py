# BYOT (Be Your Own Teacher, Zhang et al., ICCV 2019): the same multi-exit ResNet-20 as TSKD,
# trained by self-distillation only (no teacher): every exit (1 - a) CE, the shallow exits also
# a KL(exit || deepest exit, T) and l ||F_exit - F_deepest||^2 with a = 0.3, l = 0.03, T = 3.
# The baseline TSKD's paper compares with: TSKD = BYOT + the teacher's logits for every exit.
_base_ = ['./multiexit_resnet20_fmnist.py']

model = dict(
    self_distill=dict(
        type='mmreviewkd.TSKDLoss', temperature=3.0, ce_weight=0.7, teacher_kd_weight=0.0,
        self_kd_weight=0.3, feature_weight=0.03))
