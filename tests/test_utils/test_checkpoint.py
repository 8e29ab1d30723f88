"""A teacher checkpoint that is missing, corrupt or for another architecture stops the build."""
import copy

import pytest
import torch
from mmengine.registry import DefaultScope

from mmreviewkd.registry import MODELS


def net(depth):
    return dict(_scope_='mmpretrain', type='ImageClassifier',
                backbone=dict(type='mmreviewkd.ResNetCifar', depth=depth, out_indices=(0, 1, 2)),
                neck=dict(type='GlobalAveragePooling'),
                head=dict(type='LinearClsHead', num_classes=10, in_channels=64))


def build(teacher_ckpt, teacher_depth=14):
    cfg = dict(type='ReviewKDDistill', architecture=net(8), teacher=net(teacher_depth),
               teacher_ckpt=teacher_ckpt,
               distiller=dict(type='ConfigurableDistiller'))
    with DefaultScope.overwrite_default_scope('mmreviewkd'):
        return MODELS.build(copy.deepcopy(cfg))


def _plain(depth):
    with DefaultScope.overwrite_default_scope('mmreviewkd'):
        return MODELS.build(net(depth))


def test_good_checkpoint_is_loaded(tmp_path):
    teacher = _plain(14)
    path = tmp_path / 't.pth'
    torch.save(dict(state_dict=teacher.state_dict()), path)
    algo = build(str(path))
    for k, v in teacher.state_dict().items():
        torch.testing.assert_close(algo.teacher.state_dict()[k], v)


def test_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match='model.teacher_ckpt'):
        build(str(tmp_path / 'nope.pth'))


def test_corrupt_file(tmp_path):
    path = tmp_path / 'corrupt.pth'
    torch.save(dict(state_dict=_plain(14).state_dict()), path)
    data = path.read_bytes()
    path.write_bytes(data[:len(data) // 2])  # truncated, as by an interrupted copy
    with pytest.raises(ValueError, match='could not be read'):
        build(str(path))


def test_checkpoint_of_another_architecture(tmp_path):
    path = tmp_path / 'r8.pth'
    torch.save(dict(state_dict=_plain(8).state_dict()), path)
    with pytest.raises(ValueError, match=r'does not fit `model.teacher`.*missing keys'):
        build(str(path))
    wide = tmp_path / 'r8x4.pth'
    with DefaultScope.overwrite_default_scope('mmreviewkd'):
        m = MODELS.build(dict(net(8), backbone=dict(type='mmreviewkd.ResNetCifar', depth=8,
                                                    width=4, out_indices=(0, 1, 2))))
    torch.save(dict(state_dict=m.state_dict()), wide)
    with pytest.raises(ValueError, match='shape mismatches'):
        build(str(wide), teacher_depth=8)


def test_distillation_checkpoint_as_teacher_gives_its_student(tmp_path):
    teacher = _plain(14)
    path = tmp_path / 'distill.pth'
    state = {f'architecture.{k}': v for k, v in teacher.state_dict().items()}
    state['distiller.connectors.review.w'] = torch.zeros(1)
    torch.save(dict(state_dict=state), path)
    algo = build(str(path))
    for k, v in teacher.state_dict().items():
        assert torch.equal(algo.teacher.state_dict()[k], v), k


def test_ddp_prefixed_teacher_checkpoint_is_loaded(tmp_path):
    teacher = _plain(14)
    path = tmp_path / 'ddp.pth'
    torch.save(dict(state_dict={f'module.{k}': v for k, v in teacher.state_dict().items()}),
               path)
    algo = build(str(path))
    for k, v in teacher.state_dict().items():
        assert torch.equal(algo.teacher.state_dict()[k], v), k


def test_plain_config_evaluating_a_distillation_checkpoint_loads_its_student(tmp_path):
    from mmreviewkd.utils.checkpoint import load_checkpoint_strict
    algo = build(None)
    path = tmp_path / 'epoch_1.pth'
    torch.save(dict(state_dict=algo.state_dict()), path)
    plain = _plain(8)
    notes = load_checkpoint_strict(plain, str(path))
    assert any('student' in n for n in notes)
    for k, v in algo.student.state_dict().items():
        assert torch.equal(plain.state_dict()[k], v), k


def test_distillation_config_evaluating_a_student_checkpoint_loads_it_as_student(tmp_path):
    from mmreviewkd.utils.checkpoint import load_checkpoint_strict
    student = _plain(8)
    path = tmp_path / 'student.pth'
    torch.save(dict(state_dict=student.state_dict()), path)
    algo = build(None)
    load_checkpoint_strict(algo, str(path))
    for k, v in student.state_dict().items():
        assert torch.equal(algo.student.state_dict()[k], v), k


def test_evaluating_a_checkpoint_of_another_architecture_is_refused(tmp_path):
    from mmreviewkd.utils.checkpoint import load_checkpoint_strict
    path = tmp_path / 'r14.pth'
    torch.save(dict(state_dict=_plain(14).state_dict()), path)
    with pytest.raises(ValueError, match=r'checkpoint=.*does not fit.*unexpected keys'):
        load_checkpoint_strict(_plain(8), str(path))


def test_wrong_channel_count_is_reported():
    algo = build(None)
    with pytest.raises(ValueError, match='1 channels but the model expects 3'):
        algo(torch.randn(2, 1, 32, 32), None, mode='tensor')
