import pytest
import torch

from mmreviewkd.apis.export import export_student, extract_student_state_dict


def test_extract_keeps_only_the_student():
    sd = {'architecture.backbone.w': torch.ones(1), 'teacher.backbone.w': torch.zeros(1),
          'distiller.connectors.review.abfs.0.conv1.0.weight': torch.zeros(1)}
    assert list(extract_student_state_dict(sd)) == ['backbone.w']
    with pytest.raises(KeyError, match='distillation checkpoint'):
        extract_student_state_dict({'backbone.w': torch.ones(1)})


def test_export_writes_atomically(tmp_path):
    src = tmp_path / 'distill.pth'
    torch.save(dict(meta=dict(epoch=2), state_dict={'architecture.fc.w': torch.ones(3),
                                                    'teacher.fc.w': torch.zeros(3)},
                    optimizer={}), src)
    out = tmp_path / 'sub' / 'student.pth'
    export_student(str(src), str(out))
    ckpt = torch.load(out, weights_only=True)
    assert list(ckpt['state_dict']) == ['fc.w'] and ckpt['meta']['epoch'] == 2
    assert not (tmp_path / 'sub' / 'student.pth.tmp').exists()
