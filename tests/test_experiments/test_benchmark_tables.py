"""The benchmark tables: step ratios and the step profile."""
from mmreviewkd.experiments.benchmark_tables import format_profile


def test_profile_table_lists_phases_and_sorts_operators_by_the_difference():
    result = dict(
        settings=dict(pair='resnet56:resnet20', batch=64, iters=5, warmup=3, threads=2,
                      torch='2.x', amp=False),
        variants=dict(
            kd=dict(phases_ms={'whole step': 150.0, 'backward': 70.0},
                    ops_ms={'aten::convolution_backward': dict(self_ms=50.0, calls=60),
                            'aten::mul': dict(self_ms=1.0, calls=5)}),
            reviewkd=dict(phases_ms={'whole step': 250.0, 'backward': 120.0,
                                     'connector review forward': 30.0},
                          ops_ms={'aten::convolution_backward': dict(self_ms=70.0, calls=70),
                                  'aten::mul': dict(self_ms=31.0, calls=20)})))
    text = format_profile(result)
    assert '| phase | kd | reviewkd |' in text and 'fp32' in text
    assert '| connector review forward |  | 30.0 |' in text
    assert '| operator (self CPU) | kd | reviewkd | reviewkd - kd |' in text
    mul, conv = text.index('| aten::mul |'), text.index('| aten::convolution_backward |')
    assert mul < conv  # +30.0 before +20.0
    assert '| aten::mul | 1.0 | 31.0 | +30.0 |' in text
