# Teacher training for ReviewKD ImageNet R50 -> MobileNetV1: MMPretrain's own ResNet-50 recipe.
_base_ = ['mmpretrain::resnet/resnet50_8xb32_in1k.py']
