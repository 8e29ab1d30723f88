# ReviewKD ImageNet: ConvNeXt-T (teacher, MMPretrain) -> ResNet-18 (student), the official
# ImageNet recipe of ResNet-34 -> ResNet-18 (HCL weight 1.0, mid channels min(512, 512) = 512).
#
# The teacher is MMPretrain's `convnext-tiny_32xb128_in1k` model unchanged: ConvNeXt with
# out_indices=(3, ) (MMPretrain's default -1: the last stage only) and
# gap_before_final_norm=True, no neck, a linear head on 768 channels. That backbone returns only
# norm3(GAP(stage 4)), an (N, 768) vector, so the stage maps are recorded from the four
# `backbone.stages.<i>` modules (their outputs, the inputs of the next downsampling,
# (N, 96|192|384|768, 56|28|14|7) at 224x224) and the pooled level from the backbone's output
# (the head's input). out_indices=(0, 1, 2, 3) with gap_before_final_norm=False would give stage
# maps too, but it adds norm0-norm2 (absent from the pretrained checkpoint, so the strict teacher
# load fails) and pools *after* norm3, which changes the teacher's logits. Inputs: MMPretrain's
# ImageNet mean/std, as the student's.
# teacher_ckpt: MMPretrain's pretrained weights as a plain state dict (configs/reviewkd/README.md).
_base_ = ['./_base_/reviewkd_in1k.py']

model = dict(
    architecture=_base_.in1k_resnets.r18,
    teacher=dict(
        _scope_='mmpretrain',
        type='ImageClassifier',
        backbone=dict(type='ConvNeXt', arch='tiny', out_indices=(3, ),
                      gap_before_final_norm=True),
        head=dict(type='LinearClsHead', num_classes=1000, in_channels=768, topk=(1, 5))),
    teacher_ckpt='checkpoints/convnext-tiny_in1k.pth',
    distiller=dict(
        teacher_recorders=dict(feats=dict(
            sources=[f'backbone.stages.{i}' for i in range(4)], pooled_source='backbone')),
        distill_losses=dict(loss_hcl=dict(loss_weight=1.0))),
)
