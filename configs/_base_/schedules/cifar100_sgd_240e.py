# The ReviewKD / CRD CIFAR-100 schedule: Nesterov SGD, lr 0.1 (0.02 for ShuffleNet/MobileNet
# students), momentum 0.9, weight decay 5e-4, batch 128, 240 epochs, x0.1 at 150/180/210.
optim_wrapper = dict(
    optimizer=dict(type='SGD', lr=0.1, momentum=0.9, weight_decay=5e-4, nesterov=True))
param_scheduler = dict(type='MultiStepLR', by_epoch=True, milestones=[150, 180, 210], gamma=0.1)
train_cfg = dict(by_epoch=True, max_epochs=240, val_interval=1)
val_cfg = dict()
test_cfg = dict()
auto_scale_lr = dict(base_batch_size=128)
