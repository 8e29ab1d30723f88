# The multi-exit ResNet-20 trained alone (CE on every exit, no teacher, no self-distillation):
# the baseline of TSKD, and the config an exported TSKD student is loaded into for inference.
_base_ = ['../fashion_mnist/resnet20_fmnist.py']

model = dict(
    type='mmreviewkd.MultiExitClassifier',
    input_shape=(1, 28, 28),
    exit_cfg=dict(type='mmreviewkd.BottleneckExit'),
    vote='soft')
val_evaluator = [
    dict(type='mmpretrain.Accuracy', topk=(1, )),
    dict(type='MultiExitAccuracy', topk=(1, 5)),
]
test_evaluator = val_evaluator
