"""The detection protocol (mmreviewkd/experiments/det_protocol.py, tools/det_benchmark.py): its
schedule scaling, its summary, the holdout split of the generated data, and the smoke version
end to end (so the pipeline cannot rot)."""
import json

import pytest

from mmreviewkd.experiments.det_protocol import schedule_options
from mmreviewkd.experiments.det_protocol_table import BOX_METRICS, format_summary, summarise


def test_schedule_scales_mmdet_1x_steps_inside_the_run_and_caps_the_warmup_at_one_epoch():
    opts = schedule_options(epochs=12, batch=8, train_images=800, seed=3)
    assert 'param_scheduler.1.milestones=[8, 11]' in opts
    assert 'param_scheduler.0.end=100' in opts  # 800 / 8 iterations: one epoch
    assert 'randomness.seed=3' in opts and 'train_cfg.max_epochs=12' in opts
    assert 'param_scheduler.0.end=500' in schedule_options(12, 2, 8000, 0)
    # a step at the last epoch would never act: kept inside the run
    for epochs, steps in ((16, [11, 15]), (8, [5, 7]), (6, [4, 5]), (2, [1]), (1, [])):
        assert f'param_scheduler.1.milestones={steps}' in schedule_options(epochs, 8, 800, 0)


def test_summary_pairs_reviewkd_with_the_student_of_the_same_seed():
    per_seed = {s: dict(student={k: 10.0 + s for k in BOX_METRICS},
                        reviewkd={k: 10.5 + 2 * s for k in BOX_METRICS}) for s in (0, 1, 2)}
    for s in per_seed:  # COCO's -1 (no large object) is kept as None
        per_seed[s]['student']['bbox_mAP_l'] = per_seed[s]['reviewkd']['bbox_mAP_l'] = None
    sm = summarise(per_seed)
    assert sm['diff']['bbox_mAP']['values'] == [0.5, 1.5, 2.5]
    assert sm['diff']['bbox_mAP']['mean'] == pytest.approx(1.5)
    assert sm['diff']['bbox_mAP']['std'] == pytest.approx(1.0)
    assert sm['student']['bbox_mAP_50']['mean'] == pytest.approx(11.0)
    assert sm['diff']['bbox_mAP_l'] is None and sm['student']['bbox_mAP_l'] is None


def test_holdout_canvases_use_items_disjoint_from_training_and_leave_val_unchanged(
        tmp_path, fmnist_root, tool):
    for name, extra in (('plain', []), ('held', ['--holdout', '20'])):
        tool('tools/dataset_converters/make_fmnist_coco.py', '--src', fmnist_root, '--out',
             str(tmp_path / name), '--train', '20', '--val', '2', *extra)
    ann = tmp_path / 'held' / 'annotations'
    holdout = json.loads((ann / 'instances_holdout.json').read_text())
    train = json.loads((ann / 'instances_train.json').read_text())
    assert len(holdout['images']) == 20 and (tmp_path / 'held' / 'holdout').is_dir()
    # the holdout items are the last 5000 training images, the training canvases' the rest
    assert min(a['source_index'] for a in holdout['annotations']) >= 55000
    assert max(a['source_index'] for a in train['annotations']) < 55000
    assert not (tmp_path / 'plain' / 'annotations' / 'instances_holdout.json').exists()
    assert ((tmp_path / 'plain' / 'annotations' / 'instances_val.json').read_text()
            == (ann / 'instances_val.json').read_text())


def test_quick_detection_protocol_pairs_student_and_reviewkd_and_resumes(tmp_path, fmnist_root,
                                                                         tool):
    tool('tools/det_benchmark.py', '--quick', '--seeds', '1', '--work-dir', str(tmp_path))
    result = json.loads((tmp_path / 'protocol.json').read_text())
    per = result['per_seed']['1']
    assert set(per['student']) == set(per['reviewkd']) == set(BOX_METRICS)
    assert result['summary']['diff']['bbox_mAP']['values'] == [
        round(per['reviewkd']['bbox_mAP'] - per['student']['bbox_mAP'], 1)]
    assert result['hcl_weight_choice']['split'] == 'holdout'
    assert set(result['teacher']) == {'holdout', 'val'}
    run = result['runs']['student_s1']
    assert run['s_per_iter'] > 0 and run['peak_rss_mb'] > 100
    assert 'ReviewKD − student, paired per seed' in format_summary(result)
    assert (tmp_path / 'protocol.png').stat().st_size > 0
    # a second run reuses every trained model and evaluation
    log = tool('tools/det_benchmark.py', '--quick', '--seeds', '1', '--work-dir', str(tmp_path))
    assert 'reusing the trained' in log and 'training ' not in log
    assert json.loads((tmp_path / 'protocol.json').read_text())['per_seed'] == result['per_seed']
    # the seed that chose the HCL weight cannot be a published one
    log = tool('tools/det_benchmark.py', '--quick', '--seeds', '0', '--work-dir', str(tmp_path),
               check=False)
    assert '--choice-seed 0 is one of --seeds [0]' in log
