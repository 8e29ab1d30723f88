"""The Fashion-MNIST recipe of the main job and the protocol: methods, splits, options.

Data (docs/main_job.md): runs train on the first images of the first ``TRAIN_PART`` training
images; the last ``VAL_SIZE`` are the validation split, where every setting was chosen and
multi-exit vote weights are fitted; the test set only produces the reported numbers.
"""
from typing import Dict, List, Optional

# The last VAL_SIZE training images are the validation split (choices are made there); runs
# train on images from the first TRAIN_PART only, so the two never overlap.
VAL_SIZE = 5000
TRAIN_PART = 60000 - VAL_SIZE

# key -> (display name, config under configs/)
TEACHER = ('teacher (ResNet-56)', 'fashion_mnist/resnet56_fmnist.py')
METHODS = {
    'student': ('student alone (ResNet-20)', 'fashion_mnist/resnet20_fmnist.py'),
    # KD at the quick schedule: 0.5 CE + 0.5 KL at T = 4, the best of three mixes on validation
    # (docs/main_job.md); the classic 0.1 / 0.9 recipe is kd_recipe
    'kd': ('KD (Hinton)', 'fashion_mnist/kd_a05_resnet56_resnet20_fmnist.py'),
    'reviewkd': ('ReviewKD', 'fashion_mnist/reviewkd_resnet56_resnet20_fmnist.py'),
    'reviewkd_kd': ('ReviewKD + KD', 'fashion_mnist/reviewkd_kd_resnet56_resnet20_fmnist.py'),
    'byot': ('BYOT (self-distillation, no teacher)', 'tskd/byot_resnet20_fmnist.py'),
    'tskd': ('TSKD', 'tskd/tskd_resnet56_resnet20_fmnist.py'),
    'tskd_reviewkd': ('TSKD + ReviewKD', 'tskd/tskd_reviewkd_resnet56_resnet20_fmnist.py'),
    'tskd_byot_weights': ('TSKD (BYOT weights)',
                          'tskd/tskd_byot_weights_resnet56_resnet20_fmnist.py'),
    'kd_recipe': ('KD (CE/KD 0.1/0.9)', 'fashion_mnist/kd_resnet56_resnet20_fmnist.py'),
    'kd_t2': ('KD (CE/KD 0.5/0.5, T=2)', 'fashion_mnist/kd_a05_t2_resnet56_resnet20_fmnist.py'),
    'tskd_a05': ('TSKD (CE/KD 0.5/0.5)', 'tskd/tskd_a05_resnet56_resnet20_fmnist.py'),
}
DEFAULT_METHODS = ['student', 'kd', 'reviewkd', 'tskd']
NO_TEACHER = ('student', 'byot')  # trained without the teacher checkpoint
# A multi-exit method -> where its vote settings live in the config
MULTI_EXIT = {'byot': 'model', 'tskd': 'model.architecture',
              'tskd_reviewkd': 'model.architecture', 'tskd_byot_weights': 'model.architecture',
              'tskd_a05': 'model.architecture'}
# Methods with ReviewKD's HCL term: its weight is warmed up over 1/12 of the iterations (the
# official schedule: 20 of 240 epochs), not the configs' 1 epoch
REVIEW = ('reviewkd', 'reviewkd_kd', 'tskd_reviewkd')
# Training cost per image relative to the student alone, for the job's ETA only (rough ratios
# of the step times on 2 cores: docs/results/step.json, the teacher from its training log).
RELATIVE_COST = dict(teacher=2.5, student=1.0, kd=1.6, reviewkd=2.2, reviewkd_kd=2.3, byot=1.3,
                     tskd=1.7, tskd_reviewkd=2.6, tskd_byot_weights=1.7, kd_recipe=1.6, kd_t2=1.6,
                     tskd_a05=1.7)


def job_settings(full: bool = False, epochs: Optional[int] = None,
                 teacher_epochs: Optional[int] = None, batch: Optional[int] = None,
                 train_size: Optional[int] = None, teacher_train_size: Optional[int] = None,
                 test_size: Optional[int] = None, seed: int = 0, teacher_seed: int = 0,
                 eval_split: str = 'test') -> Dict:
    """The training settings of a main-job run: the quick default (students 1 epoch on 20 000
    images, the teacher 1 epoch on 50 000, batch 64) or ``full`` (all ``TRAIN_PART`` images,
    15 epochs, batch 128), with any value given overriding it.

    Raises:
        ValueError: when a count is below 1 or a training size reaches into the validation
            split; the message names the command-line option.
    """
    for option, value in (('epochs', epochs), ('teacher-epochs', teacher_epochs),
                          ('batch-size', batch), ('test-size', test_size)):
        if value is not None and value < 1:
            raise ValueError(f'--{option}={value}: must be at least 1')
    settings = dict(
        epochs=epochs or (15 if full else 1),
        teacher_epochs=teacher_epochs or (15 if full else 1),
        batch=batch or (128 if full else 64),
        train_size=train_size or (TRAIN_PART if full else 20000),
        teacher_train_size=teacher_train_size or (TRAIN_PART if full else 50000),
        test_size=test_size, seed=seed, teacher_seed=teacher_seed, eval_split=eval_split)
    for key in ('train_size', 'teacher_train_size'):
        if not 0 < settings[key] <= TRAIN_PART:
            raise ValueError(f'--{key.replace("_", "-")}={settings[key]}: use 1..{TRAIN_PART}; '
                             f'the last {VAL_SIZE} training images are the validation split')
    return settings


def train_options(epochs: int, size: int, batch: int, seed: int) -> List[str]:
    """``--cfg-options`` of one training run: the first ``size`` training images, validation
    on the held-out split at the end, linear warm-up then cosine decay, both per iteration
    (warm-up: 1 epoch for runs of >= 5 epochs, else a tenth of an epoch and at least one
    iteration)."""
    iters = -(-size // batch)
    warmup = 1 if epochs >= 5 else round(min(1.0, max(0.1, 1.5 / iters)), 4)
    return [
        f'train_dataloader.dataset.indices={size}', f'train_dataloader.batch_size={batch}',
        'val_dataloader.dataset.split=train', 'val_dataloader.dataset.test_mode=False',
        f'val_dataloader.dataset.indices=-{VAL_SIZE}',
        f'train_cfg.max_epochs={epochs}', f'train_cfg.val_interval={epochs}',
        f'param_scheduler.0.end={warmup}', f'param_scheduler.1.begin={warmup}',
        f'param_scheduler.1.end={epochs}', 'param_scheduler.1.convert_to_iter_based=True',
        f'randomness.seed={seed}', 'default_hooks.logger.interval=20']


def eval_options(split: str, test_size: Optional[int]) -> List[str]:
    """``--cfg-options`` of tools/test.py for the held-out validation split or the test set."""
    if split == 'val':
        # test_mode=False: MMPretrain's MNIST datasets read the *test* files whenever
        # test_mode=True, whatever `split` says (mmpretrain 1.2.0, mnist.py); the test pipeline
        # has no randomness, so nothing else changes
        return ['test_dataloader.dataset.split=train', 'test_dataloader.dataset.test_mode=False',
                f'test_dataloader.dataset.indices=-{VAL_SIZE}']
    return [f'test_dataloader.dataset.indices={test_size}']
