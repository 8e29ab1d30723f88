# TSKD with BYOT's loss weights for the teacher term too (T = 3, CE / KD 0.7 / 0.3, self-KD 0.3,
# feature L2 0.03; Zhang et al., ICCV 2019): the reading of TSKD's paper (Xu et al., 2023) that
# reuses BYOT's weights, which the paper does not publish for its own teacher term. Kept as the
# paper-faithful variant beside the default (KD-recipe teacher term, tskd_resnet56_resnet20_fmnist.py).
_base_ = ['./tskd_resnet56_resnet20_fmnist.py']

model = dict(
    tskd_loss=dict(
        type='TSKDLoss', temperature=3.0, ce_weight=0.7, teacher_kd_weight=0.3,
        self_kd_weight=0.3, feature_weight=0.03))
