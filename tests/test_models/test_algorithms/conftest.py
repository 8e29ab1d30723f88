"""Model configs shared by the algorithm tests."""
import pytest


def cifar_classifier(depth: int, multi_exit: bool = False) -> dict:
    """A CIFAR ResNet classifier config (10 classes, 3 stages recorded; optionally multi-exit)."""
    cfg = dict(
        _scope_='mmpretrain', type='ImageClassifier',
        backbone=dict(type='mmreviewkd.ResNetCifar', depth=depth, out_indices=(0, 1, 2)),
        neck=dict(type='GlobalAveragePooling'),
        head=dict(type='LinearClsHead', num_classes=10, in_channels=64))
    if multi_exit:
        cfg.update(type='mmreviewkd.MultiExitClassifier', input_shape=(3, 32, 32))
    return cfg


@pytest.fixture(scope='session')
def classifier_cfg():
    """Factory ``classifier_cfg(depth, multi_exit=False) -> dict``."""
    return cifar_classifier


def review_distiller(loss_weight: float = 1.0, preact: bool = True, hcl: dict = None,
                     **connector) -> dict:
    """The ReviewKD distiller of the classification configs: the student's stage outputs (+ the
    pooled feature) through the ABF chain, matched by HCL to the teacher's (its stages before
    their final ReLU unless ``preact=False``); ``hcl``: HCLLoss options, ``connector``:
    ReviewKDConnector options."""
    return dict(
        type='ConfigurableDistiller',
        student_recorders=dict(feats=dict(type='StageFeatures')),
        teacher_recorders=dict(feats=dict(type='StageFeatures', preact=preact)),
        connectors=dict(review=dict(type='ReviewKDConnector', **connector)),
        distill_losses=dict(loss_hcl=dict(type='HCLLoss', loss_weight=loss_weight,
                                          **(hcl or {}))),
        loss_forward_mappings=dict(loss_hcl=dict(
            s_feats=dict(from_student=True, recorder='feats', connector='review'),
            t_feats=dict(from_student=False, recorder='feats'))))


@pytest.fixture(scope='session')
def review_distiller_cfg():
    """Factory ``review_distiller_cfg(loss_weight=1.0, preact=True, **connector) -> dict``."""
    return review_distiller


def _state(algo, optimizer):
    import copy
    return (copy.deepcopy(algo.state_dict()), copy.deepcopy(optimizer.state_dict()))


def _assert_bitwise_equal(before, after):
    import torch
    (model_a, optim_a), (model_b, optim_b) = before, after
    assert model_a.keys() == model_b.keys()
    changed = [k for k in model_a if not torch.equal(model_a[k], model_b[k])]
    assert not changed, f'changed by the bad batch: {changed[:5]}'
    for pid, st in optim_a['state'].items():
        for k, v in st.items():
            assert torch.equal(v, optim_b['state'][pid][k]), f'optimizer state {pid}.{k}'


@pytest.fixture(scope='session')
def assert_nan_batch_leaves_model_untouched():
    """Check ``fn(algo, x, samples)``: a good SGD step (momentum state exists), then a batch
    with a NaN pixel must raise ``FloatingPointError`` and leave weights, BN buffers and
    optimizer state bit for bit as they were."""
    import torch
    from mmengine.optim import OptimWrapper

    def check(algo, x, samples):
        algo.train()
        params = [p for p in algo.parameters() if p.requires_grad]
        optim = OptimWrapper(torch.optim.SGD(params, lr=0.01, momentum=0.9))
        loss, _ = algo.parse_losses(algo(x, samples, mode='loss'))
        optim.update_params(loss)
        before = _state(algo, optim.optimizer)
        bad = x.clone()
        bad[0, 0, 0, 0] = float('nan')
        try:
            algo(bad, samples, mode='loss')
        except FloatingPointError as e:
            assert 'before this batch' in str(e)
        else:
            raise AssertionError('a NaN batch did not stop training')
        _assert_bitwise_equal(before, _state(algo, optim.optimizer))
        # the model still trains afterwards
        loss, _ = algo.parse_losses(algo(x, samples, mode='loss'))
        assert torch.isfinite(loss)
    return check
