"""The benchmark scripts build what they claim from the committed configs (timings themselves
are printed by the scripts, never asserted)."""
import importlib.util
import os.path as osp

import pytest

from mmreviewkd.experiments.paths import project_root

ROOT = project_root()


def load(name):
    path = osp.join(ROOT, 'tools', 'analysis_tools', f'{name}.py')
    spec = importlib.util.spec_from_file_location(f'_bench_{name}', path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope='module')
def step():
    return load('benchmark_step')


def test_step_variants_come_from_the_configs_with_the_right_options():
    from mmreviewkd.experiments.step_models import VARIANTS, model_cfg
    cfgs = {v: model_cfg(v, 'resnet56', 'resnet20') for v in VARIANTS}
    assert cfgs['student']['type'].endswith('ImageClassifier')
    assert cfgs['reviewkd']['type'] == 'ReviewKDDistill' and 'channels_last' not in cfgs['reviewkd']
    ref = cfgs['reviewkd_reference']
    assert ref['channels_last'] is False and ref['teacher_fold_bn'] is False
    assert ref['distiller']['connectors']['review']['split_attention'] is False
    assert ref['distiller']['connectors']['review']['fused_ops'] is False
    assert ref['distiller']['distill_losses']['loss_hcl']['nested_pools'] is False
    assert ref['distiller']['distill_losses']['loss_hcl']['fused_ops'] is False
    split, unfused = cfgs['reviewkd_split_only'], cfgs['reviewkd_unfused']
    assert split['channels_last'] is False and unfused['channels_last'] is True
    for cfg in (split, unfused):
        assert cfg['distiller']['connectors']['review']['split_attention'] is True
        assert cfg['distiller']['connectors']['review']['fused_ops'] is False
        assert cfg['distiller']['distill_losses']['loss_hcl']['nested_pools'] is False
        assert cfg['distiller']['distill_losses']['loss_hcl']['fused_ops'] is False
    assert 'fused_ops' not in cfgs['reviewkd']['distiller']['connectors']['review']
    assert cfgs['reviewkd_inference_mode']['teacher_grad_mode'] == 'inference_mode'
    assert cfgs['reviewkd_compiled']['compile_connectors'] is True
    assert set(cfgs['kd']['distiller']['distill_losses']) == {'loss_kl'}
    assert cfgs['tskd']['type'] == 'TSKDDistill'
    assert all('teacher_ckpt' not in c for c in cfgs.values())
    assert model_cfg('tskd', 'resnet110', 'resnet32') is None  # no such config


def test_step_worker_times_ours_and_the_handwritten_loop_on_one_model(step):
    out = step.worker('resnet56:resnet20', 'reviewkd', batch=2, iters=1, warmup=0, threads=None)
    assert out['extra_params'] == 114278  # the four ABFs of R20 -> R56 (mid 64)
    assert out['s_per_step'] > 0 and out['handwritten_s_per_step'] > 0
    assert out['config'] == 'configs/reviewkd/reviewkd_resnet56_resnet20_cifar100.py'
    tskd = step.worker('resnet56:resnet20', 'tskd', batch=2, iters=1, warmup=0, threads=None)
    assert tskd['extra_params'] == 31656 and 'handwritten_s_per_step' not in tskd


def test_step_ratios_divide_the_right_variants_and_leave_out_unmeasured_ones():
    from mmreviewkd.experiments.benchmark_tables import step_ratios
    row = dict(student=dict(s_per_step=1.0), student_channels_last=dict(s_per_step=0.5),
               kd=dict(s_per_step=2.0),
               reviewkd=dict(s_per_step=3.0, handwritten_s_per_step=2.0),
               reviewkd_reference=dict(s_per_step=6.0, handwritten_s_per_step=6.0),
               reviewkd_split_only=dict(s_per_step=4.0),
               reviewkd_unfused=dict(s_per_step=3.6))
    r = step_ratios(row)
    assert r['ours_vs_handwritten (default settings)'] == 1.5
    assert r['ours_vs_handwritten (reference settings)'] == 1.0
    assert r['reviewkd_vs_kd'] == 1.5
    assert r['speedup: default vs reference (all speed-ups)'] == 2.0
    assert r['speedup: split attention (contiguous)'] == 1.5
    assert r['speedup: channels_last (split attention)'] == pytest.approx(4 / 3.6)
    assert r['speedup: fused ABF ops + nested HCL pools'] == pytest.approx(3.6 / 3)
    assert r['speedup: channels_last student alone'] == 2.0
    assert 'speedup: compiled connector' not in r  # not measured: not reported


@pytest.fixture(scope='module')
def tables():
    return load('results_tables')


def test_readme_tables_are_the_committed_json_rendered(tables):
    # every generated block of the READMEs (and the Fashion-MNIST metafile) equals what the
    # script renders from the committed JSON: no hand-typed or stale numbers
    assert tables.main(['--check']) == []


def test_reproduction_table_flags_differences_beyond_the_std(tables, monkeypatch):
    def summary(**rows):
        return dict(summary={k: dict(mean=m, std=s, n=3, values=[m] * 3)
                             for k, (m, s) in rows.items()})
    data = dict(fmnist_protocol_3seeds=summary(a=(80.0, 1.0), b=(70.0, 0.5), c=(60.0, 1.0)),
                fmnist_previous=summary(a=(80.9, 1.0), b=(71.0, 0.5)))
    monkeypatch.setattr(tables, '_json', data.__getitem__)
    lines = tables.fmnist_reproduction().splitlines()
    assert lines[2].startswith('| a |') and lines[2].endswith('| -0.90 | yes |')
    assert lines[3].startswith('| b |') and lines[3].endswith('| -1.00 | **no** |')
    assert len(lines) == 4  # c is not in the earlier run


def test_missing_block_names_the_file_and_marker(tables):
    with pytest.raises(KeyError, match='README.md: no block "<!-- generated: inference -->"'):
        tables.fill('no markers here', 'inference', 'x', 'README.md')
    text = 'a\n<!-- generated: inference -->\nold\n<!-- end: inference -->\nb'
    assert tables.fill(text, 'inference', 'new\n', 'R') == \
        'a\n<!-- generated: inference -->\nnew\n<!-- end: inference -->\nb'


def test_profile_marks_the_phases_of_the_real_step():
    out = load('profile_step').profile_variant('resnet56:resnet20', 'reviewkd', batch=2,
                                               iters=1, warmup=1, top=5)
    phases = out['phases_ms']
    for name in ('teacher forward', 'student forward + task loss', 'connector review forward',
                 'loss loss_hcl forward', 'backward', 'optimizer step', 'whole step'):
        assert phases[name] > 0, name
    inner = phases['teacher forward'] + phases['student forward + task loss'] + \
        phases['backward']
    assert phases['whole step'] >= inner  # the phases are parts of the step
    assert len(out['ops_ms']) == 5


def test_commit_comparison_takes_medians_per_tree_and_divides_baseline_by_ours():
    compare = load('compare_step_commits')
    times = dict(baseline=dict(kd=[2.0, 2.2, 9.0], reviewkd=[4.0, 3.0, 3.5]),
                 ours=dict(kd=[1.9, 2.0, 2.1], reviewkd=[2.6, 2.5, 2.4]))
    out = compare.summarise(times, ['kd', 'reviewkd'])
    assert out['s_per_step']['baseline'] == dict(kd=2.2, reviewkd=3.5)  # medians: 9.0 ignored
    assert out['speedup']['reviewkd'] == pytest.approx(3.5 / 2.5)
    assert out['reviewkd_vs_kd'] == dict(baseline=pytest.approx(3.5 / 2.2),
                                         ours=pytest.approx(2.5 / 2.0))


def test_step_summary_takes_each_row_from_one_run_the_interleaved_one_where_there_is_one():
    from mmreviewkd.experiments.benchmark_tables import format_step_summary
    data = dict(pairs={'resnet56:resnet20': dict(variants=dict(  # the step table: other figures
        kd=dict(s_per_step=0.25), reviewkd=dict(s_per_step=0.26))),
        'resnet32x4:resnet8x4': dict(variants=dict(
            kd=dict(s_per_step=0.5), reviewkd=dict(s_per_step=0.8)))},
        baseline_comparison=dict(
            settings=dict(baseline='6be73d6', ours='abc1234', rounds=3, iters=5),
            pairs={'resnet56:resnet20': dict(
                s_per_step=dict(baseline=dict(kd=0.21, reviewkd=0.4),
                                ours=dict(kd=0.2, reviewkd=0.3)),
                speedup=dict(kd=1.05, reviewkd=0.4 / 0.3),
                reviewkd_vs_kd=dict(baseline=0.4 / 0.21, ours=1.5))}))
    text = format_step_summary(data)
    assert '| resnet56 -> resnet20 | 0.200 | 0.300 | 1.50 (<= 1.35) | 0.400 | 1.33x | 1.05x |' \
        in text
    assert '| resnet32x4 -> resnet8x4 | 0.500 | 0.800 | 1.60 (<= 1.7) | – | – | – |' in text
    assert 'ReviewKD / KD at 6be73d6: resnet56 -> resnet20 1.90.' in text
