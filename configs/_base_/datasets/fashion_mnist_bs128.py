# Fashion-MNIST (MMPretrain's FashionMNIST) at its native 1x28x28: random 28x28 crops of the
# 2-padded image plus horizontal flips for training, the plain image for testing.
# The files come from Debian's dataset-fashion-mnist package (tools/setup_env.sh puts them under
# data/fashion_mnist/); elsewhere MMPretrain downloads them on first use.
dataset_type = 'mmpretrain.FashionMNIST'
data_root = 'data/fashion_mnist'
num_classes = 10
# Training-set subset: None = all 60000 images; the quick default main job uses 10000.
train_indices = None
test_indices = None

fmnist_preprocessor = dict(
    type='mmpretrain.ClsDataPreprocessor',
    num_classes=num_classes,
    mean=[72.94],  # 0.2860 * 255
    std=[90.02],  # 0.3530 * 255
)

train_pipeline = [
    dict(type='mmpretrain.RandomCrop', crop_size=28, padding=2),
    dict(type='mmpretrain.RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='mmpretrain.PackInputs'),
]
test_pipeline = [dict(type='mmpretrain.PackInputs')]

train_dataloader = dict(
    batch_size=128,
    num_workers=2,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    dataset=dict(
        type=dataset_type, data_root=data_root, split='train', download=True,
        indices=train_indices, pipeline=train_pipeline),
)
val_dataloader = dict(
    batch_size=256,
    num_workers=2,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type=dataset_type, data_root=data_root, split='test', test_mode=True, download=True,
        indices=test_indices, pipeline=test_pipeline),
)
val_evaluator = dict(type='mmpretrain.Accuracy', topk=(1, ))
test_dataloader = val_dataloader
test_evaluator = val_evaluator
