"""The detection protocol (mmreviewkd/experiments/det_protocol.py, tools/det_benchmark.py): its
schedule scaling, its summary, the holdout split of the generated data, and the smoke version
end to end (so the pipeline cannot rot)."""
import json

import pytest

from mmreviewkd.experiments.det_protocol import schedule_options
from mmreviewkd.experiments.det_protocol_table import BOX_METRICS, format_summary, summarise


def test_schedule_scales_mmdet_1x_steps_and_caps_the_warmup_at_one_epoch():
    opts = schedule_options(epochs=12, batch=8, train_images=800, seed=3)
    assert 'param_scheduler.1.milestones=[8, 11]' in opts
    assert 'param_scheduler.0.end=100' in opts  # 800 / 8 iterations: one epoch
    assert 'randomness.seed=3' in opts and 'train_cfg.max_epochs=12' in opts
    assert 'param_scheduler.1.milestones=[4, 6]' in schedule_options(6, 8, 800, 0)
    assert 'param_scheduler.0.end=500' in schedule_options(12, 2, 8000, 0)


def test_summary_pairs_reviewkd_with_the_student_of_the_same_seed():
    per_seed = {s: dict(student={k: 10.0 + s for k in BOX_METRICS},
                        reviewkd={k: 10.5 + 2 * s for k in BOX_METRICS}) for s in (0, 1, 2)}
    sm = summarise(per_seed)
    assert sm['diff']['bbox_mAP']['values'] == [0.5, 1.5, 2.5]
    assert sm['diff']['bbox_mAP']['mean'] == pytest.approx(1.5)
    assert sm['diff']['bbox_mAP']['std'] == pytest.approx(1.0)
    assert sm['student']['bbox_mAP_50']['mean'] == pytest.approx(11.0)


def test_holdout_canvases_leave_the_evaluation_split_unchanged(tmp_path, fmnist_root, tool):
    for name, extra in (('plain', []), ('held', ['--holdout', '3'])):
        tool('tools/dataset_converters/make_fmnist_coco.py', '--src', fmnist_root, '--out',
             str(tmp_path / name), '--train', '3', '--val', '2', *extra)
    ann = tmp_path / 'held' / 'annotations'
    holdout = json.loads((ann / 'instances_holdout.json').read_text())
    assert len(holdout['images']) == 3 and (tmp_path / 'held' / 'holdout').is_dir()
    assert not (tmp_path / 'plain' / 'annotations' / 'instances_holdout.json').exists()
    assert ((tmp_path / 'plain' / 'annotations' / 'instances_val.json').read_text()
            == (ann / 'instances_val.json').read_text())


def test_quick_detection_protocol_pairs_student_and_reviewkd_and_resumes(tmp_path, fmnist_root,
                                                                         tool):
    tool('tools/det_benchmark.py', '--quick', '--seeds', '0', '--work-dir', str(tmp_path))
    result = json.loads((tmp_path / 'protocol.json').read_text())
    per = result['per_seed']['0']
    assert set(per['student']) == set(per['reviewkd']) == set(BOX_METRICS)
    assert result['summary']['diff']['bbox_mAP']['values'] == [
        round(per['reviewkd']['bbox_mAP'] - per['student']['bbox_mAP'], 2)]
    assert result['hcl_weight_choice']['split'] == 'holdout'
    assert set(result['teacher']) == {'holdout', 'val'}
    run = result['runs']['student_s0']
    assert run['s_per_iter'] > 0 and run['peak_rss_mb'] > 100
    assert 'ReviewKD − student, paired per seed' in format_summary(result)
    # a second run reuses every trained model and evaluation
    log = tool('tools/det_benchmark.py', '--quick', '--seeds', '0', '--work-dir', str(tmp_path))
    assert 'reusing the trained' in log and 'training ' not in log
    assert json.loads((tmp_path / 'protocol.json').read_text())['per_seed'] == result['per_seed']
