"""The bf16-vs-fp32 protocol comparison pairs runs by seed and judges noise on the differences."""
import json

import pytest

from mmreviewkd.experiments.amp_protocol import compare, format_comparison


def _write(tmp_path, folder, seed, amp, top1):
    path = tmp_path / folder
    path.mkdir(exist_ok=True)
    results = dict(teacher=dict(rows=dict(teacher=dict(top1=90.0))),
                   student=dict(rows={'student alone': dict(top1=top1[0])}),
                   reviewkd=dict(rows={'ReviewKD': dict(top1=top1[1])}))
    name = f'results_e1_n20000_b64_s{seed}{"_amp" if amp else ""}_test.json'
    (path / name).write_text(json.dumps(dict(results=results)))


def test_compare_pairs_seeds_and_marks_a_consistent_shift_beyond_noise(tmp_path):
    fp32 = {0: (80.0, 84.0), 1: (82.0, 85.0), 2: (78.0, 83.0)}
    # student: bf16 moves by -0.1 / +0.1 / 0.0 (noise); ReviewKD: -1.0 on every seed (a shift)
    bf16 = {0: (79.9, 83.0), 1: (82.1, 84.0), 2: (78.0, 82.0)}
    for seed in fp32:
        _write(tmp_path, 'fp32', seed, False, fp32[seed])
        _write(tmp_path, 'amp', seed, True, bf16[seed])
    data = compare(str(tmp_path / 'fp32'), str(tmp_path / 'amp'), [0, 1, 2])
    student, review = data['rows']['student alone'], data['rows']['ReviewKD']
    assert 'teacher' not in data['rows']
    assert student['diff']['mean'] == pytest.approx(0.0, abs=1e-9)
    assert student['within_noise'] is True
    assert review['diff']['mean'] == pytest.approx(-1.0) and review['diff']['std'] < 1e-9
    assert review['within_noise'] is False
    assert review['fp32']['mean'] == pytest.approx(84.0)
    table = format_comparison(data)
    assert '| ReviewKD | 84.00 ± 1.00 | 83.00 ± 1.00 | -1.00 ± 0.00 | **no** |' in table


def test_review_dtype_runs_of_one_work_dir_are_paired_by_their_suffixes(tmp_path):
    from mmreviewkd.experiments.amp_protocol import REVIEW_DTYPE_RUNS, REVIEW_DTYPE_TEXT
    for seed, (fp32, bf16) in enumerate([(84.0, 84.2), (85.0, 84.9), (83.0, 83.1)]):
        for suffix, top1 in zip(REVIEW_DTYPE_RUNS, (fp32, bf16)):
            results = dict(reviewkd=dict(rows={'ReviewKD': dict(top1=top1)}))
            (tmp_path / f'results_e1_n20000_b64_s{seed}{suffix}_test.json').write_text(
                json.dumps(dict(results=results)))
    data = compare(str(tmp_path), str(tmp_path), [0, 1, 2], suffixes=REVIEW_DTYPE_RUNS,
                   what=REVIEW_DTYPE_TEXT)
    review = data['rows']['ReviewKD']
    assert review['diff']['values'] == pytest.approx([0.2, -0.1, 0.1])
    assert review['within_noise'] is True
    assert "review path only" in format_comparison(data)
