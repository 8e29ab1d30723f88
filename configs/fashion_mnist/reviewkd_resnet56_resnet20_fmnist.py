# ReviewKD (Chen et al., CVPR 2021): ResNet-56 teacher -> ResNet-20 student on Fashion-MNIST.
# Student stage outputs + pooled feature are reviewed by the ABF chain (one pass per step) and
# matched to the teacher's by HCL. Loss weight 0.6 = the official R56->R20 CIFAR-100 weight; the
# weight is warmed up linearly (official: over 20 of 240 epochs; here over 1/12 of the schedule).
_base_ = ['./resnet20_fmnist.py', '../_base_/distillers/reviewkd.py']

teacher_ckpt = 'work_dirs/teachers/resnet56_fmnist.pth'
teacher = dict(_base_.model, backbone=dict(_base_.model.backbone, depth=56))

model = dict(
    _delete_=True,
    type='ReviewKDDistill',
    data_preprocessor=None,  # use the student's
    input_shape=(1, 28, 28),  # dry forward that infers every channel / spatial size
    architecture=_base_.model,
    teacher=teacher,
    teacher_ckpt=teacher_ckpt,
    distiller=dict(
        _base_.reviewkd_distiller,
        # official CIFAR behaviour: the teacher's stages *before* their final ReLU
        teacher_recorders=dict(feats=dict(type='StageFeatures', preact=True)),
        distill_losses=dict(loss_hcl=dict(type='HCLLoss', loss_weight=0.6))),
)
custom_hooks = [dict(type='DistillLossWarmupHook', warmup=1, by_epoch=True)]
