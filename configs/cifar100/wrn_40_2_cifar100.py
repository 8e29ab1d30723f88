# wrn_40_2 trained alone on CIFAR-100 (teacher training / student baseline), the KD
# literature's 240-epoch recipe.
_base_ = ['../_base_/cifar100_240e.py']
model = _base_.cifar_models.wrn_40_2
