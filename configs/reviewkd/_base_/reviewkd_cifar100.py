# ReviewKD on CIFAR-100, the official recipe (Chen et al., CVPR 2021; official code):
# CE weight 1.0, no KL term, the HCL weight of the pair warmed up linearly over 20 epochs,
# 240 epochs of Nesterov SGD. Pair configs set `architecture` (the student, from `cifar_models`),
# `teacher`, `teacher_ckpt`, the loss weight, and (for ShuffleNet/MobileNet students) lr 0.02.
_base_ = ['../../_base_/cifar100_240e.py', '../../_base_/models/reviewkd_classifier.py']

model = dict(
    architecture=dict(data_preprocessor=_base_.data_preprocessor),  # + the pair's student
    input_shape=(3, 32, 32),
    teacher_ckpt=None,
    # the official CIFAR code takes the teacher's stages before their final ReLU
    distiller=dict(teacher_recorders=dict(feats=dict(preact=True))),
)
custom_hooks = [dict(type='mmreviewkd.DistillLossWarmupHook', warmup=20, by_epoch=True)]
