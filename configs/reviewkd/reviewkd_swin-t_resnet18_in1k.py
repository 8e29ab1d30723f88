# ReviewKD ImageNet: Swin-T (teacher, MMPretrain) -> ResNet-18 (student), the official ImageNet
# recipe of ResNet-34 -> ResNet-18 (HCL weight 1.0, mid channels min(512, 512) = 512).
#
# The teacher is MMPretrain's `swin-tiny_16xb64_in1k` model with out_indices=(0, 1, 2, 3): the
# backbone then returns the 4 stage outputs as (N, C, H, W) maps, (96|192|384|768, 56|28|14|7)
# at 224x224, each through its own LayerNorm `norm<i>`, taken before the stage's patch merging
# (out_after_downsample=False, the default). norm3 is the pretrained final norm, so the neck
# (GAP of the last output) and the head, hence the logits, are those of the pretrained model;
# norm0-norm2 are added by the extra out_indices and stay at LayerNorm's initialisation
# (weight 1, bias 0: plain per-token standardisation), as the teacher is frozen. The default
# recorders read backbone (4 maps) + neck (pooled). Inputs: MMPretrain's ImageNet mean/std, as
# the student's. teacher_ckpt: MMPretrain's pretrained weights as a plain state dict including
# norm0-norm2 (configs/reviewkd/README.md).
_base_ = ['./_base_/reviewkd_in1k.py']

model = dict(
    architecture=_base_.in1k_resnets.r18,
    teacher=dict(
        _scope_='mmpretrain',
        type='ImageClassifier',
        backbone=dict(type='SwinTransformer', arch='tiny', img_size=224,
                      out_indices=(0, 1, 2, 3), out_after_downsample=False),
        neck=dict(type='GlobalAveragePooling'),
        head=dict(type='LinearClsHead', num_classes=1000, in_channels=768, topk=(1, 5))),
    teacher_ckpt='checkpoints/swin-tiny_in1k.pth',
    distiller=dict(distill_losses=dict(loss_hcl=dict(loss_weight=1.0))),
)
