# Teacher training for ReviewKD ImageNet R34 -> R18: MMPretrain's own ResNet-34 recipe.
_base_ = ['mmpretrain::resnet/resnet34_8xb32_in1k.py']
