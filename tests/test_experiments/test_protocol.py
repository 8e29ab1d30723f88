"""The protocol's aggregation: per-row mean +- std, paired differences per seed, model costs."""
import pytest

from mmreviewkd.experiments import protocol


def test_paired_differences_are_taken_per_seed_not_between_means():
    kd, student = 'KD (Hinton)', 'student alone (ResNet-20)'
    vote = 'BYOT (self-distillation, no teacher): vote'
    per_seed = [{student: 80.0, kd: 81.0, vote: 79.0, 'TSKD: vote': 82.0},
                {student: 70.0, kd: 72.0, vote: 71.0, 'TSKD: vote': 73.0},
                {student: 75.0, kd: 75.5, vote: 76.0, 'TSKD: vote': 77.0}]
    summary = protocol.summarise(per_seed)
    tskd = summary['TSKD: vote']
    assert tskd['mean'] == pytest.approx(77.333, abs=1e-3)
    assert tskd['diff']['kd']['values'] == pytest.approx([1.0, 1.0, 1.5])
    assert tskd['diff']['student']['values'] == pytest.approx([2.0, 3.0, 2.0])
    assert tskd['diff']['byot']['values'] == pytest.approx([3.0, 2.0, 1.0])
    # the student's large seed-to-seed swing (std 5) cancels in the paired difference
    assert summary[student]['std'] == pytest.approx(5.0)
    assert tskd['diff']['kd']['std'] == pytest.approx(0.2887, abs=1e-4)
    assert 'kd' not in summary[kd]['diff']  # no difference of a row with itself
    table = protocol.format_summary(summary, dict(seeds=[0, 1, 2], main_job_args='x'))
    assert '| TSKD: vote | 77.33 ± 4.51 | +2.33 ± 0.58 | +1.17 ± 0.29 | +2.00 ± 1.00 |' in table


def test_row_costs_count_the_deployed_models_and_what_the_vote_adds():
    costs = protocol.row_costs(['student', 'reviewkd', 'tskd'])
    student = costs['student alone (ResNet-20)']
    assert student['params'] == pytest.approx(0.272e6, rel=0.01)  # ResNet-20, 10 classes
    assert costs['ReviewKD'] == student  # the ABF connectors are not part of the student
    assert costs['teacher']['macs'] > 2.5 * student['macs']  # ResNet-56 vs ResNet-20
    deepest, vote = costs['TSKD: deepest exit'], costs['TSKD: vote']
    assert deepest == pytest.approx(student)  # the deepest exit alone is the plain ResNet-20
    assert vote['macs'] > deepest['macs'] and vote['params'] > deepest['params']
