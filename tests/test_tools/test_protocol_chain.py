"""The protocol and the main job end to end through their scripts (tools/fmnist_benchmark.py
--quick: one seed, 512 training / 256 test images), so the wiring of tools/ ->
mmreviewkd.experiments -> tools/train.py and tools/test.py cannot rot."""
import json
import os.path as osp


def test_quick_protocol_trains_evaluates_and_summarises_paired_seeds(tmp_path, fmnist_root, tool):
    out = tmp_path / 'protocol'
    log = tool('tools/fmnist_benchmark.py', '--quick', '--methods', 'student', 'kd', '--out',
               str(out))
    assert '[protocol] 1/1 seeds done' in log
    summary = json.loads((out / 'summary.json').read_text())
    rows = summary['summary']
    assert set(rows) == {'teacher', 'student alone (ResNet-20)', 'KD (Hinton)'}
    assert summary['settings']['test_images'] == 256 and summary['settings']['seeds'] == [0]
    kd = rows['KD (Hinton)']
    assert kd['diff']['student']['values'] == [kd['values'][0] -
                                               rows['student alone (ResNet-20)']['values'][0]]
    assert kd['params'] > 0 and kd['macs'] > 0
    assert (out / 'summary.md').is_file() and (out / 'accuracy.png').is_file()
    # the main job's own record of the seed: its table, its settings (a 512-image teacher:
    # trained, not the shipped one)
    runs = out / 'quick_runs'
    result = json.loads((runs / 'results_test.json').read_text())
    assert result['table']['n'] == 256 and result['settings']['teacher_train_size'] == 512
    assert osp.isfile(runs / 'teacher_e1_n512_b64_s0' / 'train_done.json')
    assert 'shipped' not in result['results']['teacher']
