# ReviewKD ImageNet: ResNet-34 (teacher) -> ResNet-18 (student), loss weight 1.0 (official),
# mid channels 512 (= min(512, 512), the official value).
# teacher_ckpt: a trained MMPretrain ResNet-34 (e.g. from `configs/imagenet/resnet34_in1k.py`
# or MMPretrain's model zoo) saved at this path.
_base_ = ['./_base_/reviewkd_in1k.py']

model = dict(
    architecture=_base_.in1k_resnets.r18,
    teacher=_base_.in1k_resnets.r34,
    teacher_ckpt='checkpoints/resnet34_in1k.pth',
    distiller=dict(distill_losses=dict(loss_hcl=dict(loss_weight=1.0))),
)
