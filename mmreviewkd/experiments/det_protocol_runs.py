"""Runs of the detection protocol (:mod:`mmreviewkd.experiments.det_protocol`): train and
evaluate with ``tools/train.py`` / ``tools/test.py``, each result reused only when it was made
with the same settings, and each run's step cost."""
import glob
import json
import os.path as osp
import statistics
import sys
import time
from typing import Dict, List, Optional

from .code_version import record_start, reuse_warning
from .det_protocol_table import BOX_METRICS
from .paths import project_root
from .progress import run_logged

LABEL = '[det protocol]'


def step_cost(work_dir: str) -> Dict[str, Optional[float]]:
    """Median seconds per training iteration (MMEngine's logged ``time``, the first logged
    window left out) from the run's ``scalars.json``."""
    files = sorted(glob.glob(osp.join(work_dir, '*', 'vis_data', 'scalars.json')))
    times = []
    for path in files:
        with open(path) as f:
            times += [json.loads(line)['time'] for line in f if '"time"' in line]
    times = times[1:] or times
    return dict(s_per_iter=round(statistics.median(times), 4) if times else None)


def run_tool(cmd: List[str], log: str) -> Dict[str, Optional[float]]:
    """Run a tool from the project root; return its wall seconds and peak RSS (MB)."""
    t0 = time.time()
    peak = run_logged(cmd, log, cwd=project_root(), label=LABEL)
    return dict(seconds=round(time.time() - t0, 1), peak_rss_mb=peak)


def _check_made(path: str, made: Dict, work_dir: str) -> None:
    """Raise if the record at ``path`` was made with other settings than ``made``."""
    if osp.isfile(path):
        with open(path) as f:
            if json.load(f)['made'] != made:
                raise RuntimeError(f'{work_dir} holds a run made with other settings; remove '
                                   'the folder or use another --work-dir')


def train(name: str, config: str, work_dir: str, options: List[str]) -> Dict:
    """Train one detector with ``tools/train.py`` unless ``work_dir`` holds the finished run
    (an interrupted one resumes); return its cost record (``train_done.json``; ``resumed``:
    its ``seconds`` cover only the last part; ``code``: the code it first started from,
    :mod:`.code_version`), with ``code_warning`` set when a reused run's training code changed
    since.

    Raises:
        RuntimeError: when ``work_dir`` holds a run (finished or cut) made with other options.
    """
    done = osp.join(work_dir, 'train_done.json')
    started = osp.join(work_dir, 'train_started.json')
    made = dict(config=config, options=options)
    for record_file in (done, started):
        _check_made(record_file, made, work_dir)
    if osp.isfile(done):
        print(f'{LABEL} reusing the trained {name} in {work_dir}', flush=True)
        with open(done) as f:
            record = json.load(f)
        record['code_warning'] = reuse_warning(record, f'The trained {name} in {work_dir}')
        if record['code_warning']:
            print(f'{LABEL} WARNING: {record["code_warning"]}', flush=True)
        return record
    resumed = osp.isfile(osp.join(work_dir, 'last_checkpoint'))
    version = record_start(started, made=made)  # the code it first started from
    print(f'{LABEL} training {name} -> {work_dir}', flush=True)
    cost = run_tool([sys.executable, 'tools/train.py', config, '--work-dir', work_dir, '--resume',
                     '--cfg-options', *options], osp.join(work_dir, 'train_stdout.log'))
    record = dict(made=made, resumed=resumed, code=version, **cost, **step_cost(work_dir))
    with open(done, 'w') as f:
        json.dump(record, f, indent=2)
    return dict(record, code_warning=None)


def evaluate(config: str, work_dir: str, split: str, options: List[str]) -> Dict[str, float]:
    """COCO box metrics (AP in %, :data:`BOX_METRICS`; None where COCO has no object of that
    size) of a run's last checkpoint on ``split``, computed with ``tools/test.py`` and kept in
    ``metrics_<split>.json``, which is reused only for the same checkpoint and options."""
    out = osp.join(work_dir, f'metrics_{split}.json')
    with open(osp.join(work_dir, 'last_checkpoint')) as f:
        ckpt = f.read().strip()
    made = dict(config=config, checkpoint=ckpt, options=options)
    if osp.isfile(out):
        with open(out) as f:
            kept = json.load(f)
        if kept.get('made') == made:
            return kept['box_ap']
    raw = osp.join(work_dir, f'test_metrics_{split}.json')
    run_tool([sys.executable, 'tools/test.py', config, ckpt, '--work-dir', work_dir,
              '--metrics-out', raw, '--cfg-options', *options],
             osp.join(work_dir, f'test_{split}_stdout.log'))
    with open(raw) as f:
        metrics = json.load(f)
    if 'coco/bbox_mAP' not in metrics:  # no detection at all: CocoMetric reports nothing
        metrics = {f'coco/{k}': 0.0 if k in BOX_METRICS[:3] else -1.0 for k in BOX_METRICS}
    # CocoMetric rounds to 3 decimals (0.1 AP) and gives -1 for a size with no object
    box = {k: round(100 * metrics[f'coco/{k}'], 1) if metrics[f'coco/{k}'] >= 0 else None
           for k in BOX_METRICS}
    with open(out, 'w') as f:
        json.dump(dict(made=made, box_ap=box), f, indent=2)
    return box


def export_teacher(work_dir: str) -> str:
    """The teacher run's last checkpoint as a plain detector checkpoint (for
    ``teacher_ckpt``), ``<work_dir>/teacher_export.pth``; exported again when the run's
    checkpoint changes."""
    from mmreviewkd.apis.export import export_student
    path = osp.join(work_dir, 'teacher_export.pth')
    stamp = path + '.source'
    with open(osp.join(work_dir, 'last_checkpoint')) as f:
        ckpt = f.read().strip()
    exported_from = None
    if osp.isfile(path) and osp.isfile(stamp):
        with open(stamp) as f:
            exported_from = f.read()
    if exported_from != ckpt:
        export_student(ckpt, path, student_prefix='')
        with open(stamp, 'w') as f:
            f.write(ckpt)
    return path
