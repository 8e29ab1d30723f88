"""One run of the main job: train a model with ``tools/train.py`` (resuming a cut run, reusing
a finished one), fit a multi-exit student's vote weights on the validation split and evaluate
with ``tools/test.py``; evaluations are reused only for the same checkpoint and options."""
import json
import os.path as osp
import sys
import time
from typing import Dict, List, Optional

from .code_version import record_start, reuse_warning
from .fmnist_recipe import MULTI_EXIT, eval_options
from .paths import project_root
from .progress import JobClock, run_logged

# Intra-op threads of the training / test processes (None: torch's default, one per core) and
# the job's clock for its ETA; set by mmreviewkd.experiments.main_job.main()
THREADS: Optional[int] = None
JOB_CLOCK: Optional[JobClock] = None


def run(cmd: List[str], log: str, epochs: int = 1) -> None:
    """Run a tool from the project root with its output in ``log``, showing its progress
    (:func:`mmreviewkd.experiments.progress.run_logged`)."""
    run_logged(cmd, log, cwd=project_root(), threads=THREADS, job_eta=JOB_CLOCK, epochs=epochs)


def last_checkpoint(work_dir: str) -> str:
    """The checkpoint MMEngine names in ``work_dir/last_checkpoint``."""
    with open(osp.join(work_dir, 'last_checkpoint')) as f:
        return f.read().strip()


def train(name: str, config: str, work_dir: str, options: List[str], epochs: int = 1) -> float:
    """Train one model with ``tools/train.py`` (resuming a cut run); return the minutes."""
    t0 = time.time()
    print(f'[main job] training {name}: {osp.relpath(config, project_root())} -> {work_dir}',
          flush=True)
    # --resume: an interrupted run continues from its last epoch checkpoint (a fresh work dir
    # simply starts; a finished one is only tested)
    run([sys.executable, 'tools/train.py', config, '--work-dir', work_dir, '--resume',
         '--cfg-options', *options], osp.join(work_dir, 'train_stdout.log'), epochs=epochs)
    return round((time.time() - t0) / 60, 2)


def evaluate(config: str, work_dir: str, split: str, options: List[str],
             name: Optional[str] = None) -> Dict:
    """Evaluate a run's last checkpoint with ``tools/test.py`` on ``split``.

    ``'val'`` is the held-out training images, ``'test'`` the test set. Writes
    ``test_metrics_<name>.json`` and ``predictions_<name>.pkl`` (``name`` defaults to the
    split). An earlier evaluation is reused only if it was made of the same checkpoint with the
    same options (``test_metrics_<name>.options``: e.g. another test size or other vote weights
    evaluate again).

    Returns:
        The metrics, with the checkpoint under ``'checkpoint'`` and the predictions' path under
        ``'predictions'``.
    """
    name = name or split
    ckpt = last_checkpoint(work_dir)
    metrics_file = osp.join(work_dir, f'test_metrics_{name}.json')
    predictions = osp.join(work_dir, f'predictions_{name}.pkl')
    made_with = osp.join(work_dir, f'test_metrics_{name}.options')
    what = json.dumps(dict(config=config, checkpoint=ckpt, options=options))
    done = all(osp.isfile(f) for f in (metrics_file, predictions, made_with))
    if done:
        with open(made_with) as f:
            done = f.read() == what
    if not done:
        run([sys.executable, 'tools/test.py', config, ckpt, '--work-dir', work_dir,
             '--metrics-out', metrics_file, '--out', predictions, '--cfg-options', *options],
            osp.join(work_dir, f'test_{name}_stdout.log'))
        with open(made_with, 'w') as f:
            f.write(what)
    with open(metrics_file) as f:
        metrics = json.load(f)
    metrics.update(checkpoint=ckpt, predictions=predictions)
    return metrics


def fit_run_vote(work_dir: str) -> Dict:
    """Fit a multi-exit run's vote weights on its validation predictions
    (``predictions_val.pkl``); saved as ``vote_weights.json``
    (:func:`mmreviewkd.evaluation.vote_weights.fit_vote_weights`)."""
    import torch  # noqa: F401  (the pickle holds tensors)
    from mmengine.fileio import load

    from mmreviewkd.evaluation.vote_weights import exit_probs_from_predictions, fit_vote_weights
    preds = load(osp.join(work_dir, 'predictions_val.pkl'))
    labels = [int(p['gt_label'].reshape(-1)[0]) for p in preds]
    fitted = fit_vote_weights(exit_probs_from_predictions(preds), labels)
    with open(osp.join(work_dir, 'vote_weights.json'), 'w') as f:
        json.dump(fitted, f, indent=2)
    return fitted


def _reuse_or_train(key: str, name: str, config: str, work_dir: str, options: List[str],
                    epochs: int) -> Dict:
    """Train the run in ``work_dir`` unless it is finished; return its record.

    A run records the code it first started from (``train_started.json``, :mod:`.code_version`)
    and, when finished, its config, options, minutes and that code (``train_done.json``; a run
    resumed with other code is marked so). A finished run is reused; when its training code
    changed since, it is reused with a warning that says so.

    Returns:
        dict: ``train_minutes``, ``code`` (the recorded version, None outside git) and
        ``code_warning`` (None, or the warning printed on reuse).

    Raises:
        RuntimeError: when ``work_dir`` holds a run trained with another config or options.
    """
    done = osp.join(work_dir, 'train_done.json')
    made_now = dict(config=osp.relpath(config, project_root()), options=options)
    trained = not osp.isfile(done)
    if JOB_CLOCK is not None:
        JOB_CLOCK.start(key)
    warning = None
    if trained:
        version = record_start(osp.join(work_dir, 'train_started.json'))
        minutes = train(name, config, work_dir, options, epochs)
        record = dict(train_minutes=minutes, **made_now, code=version)
        with open(done, 'w') as f:
            json.dump(record, f, indent=2)
    else:
        with open(done) as f:
            record = json.load(f)
        made = {k: record[k] for k in ('config', 'options') if k in record}
        if made and made != made_now:
            raise RuntimeError(
                f'{work_dir} was trained with other settings ({made}); the folder name does not '
                f'capture every option. Remove the folder or use another --work-dir.')
        print(f'[main job] reusing the trained {name} in {work_dir}', flush=True)
        warning = reuse_warning(record, f'The trained {name} in {work_dir}')
        if warning:
            print(f'[main job] WARNING: {warning}', flush=True)
    if JOB_CLOCK is not None:
        JOB_CLOCK.finish(key, trained=trained)
    return dict(train_minutes=record['train_minutes'], code=record.get('code'),
                code_warning=warning)


def run_model(key: str, name: str, config: str, work_dir: str, options: List[str],
              split: str, test_size: Optional[int], epochs: int = 1) -> Dict:
    """Train (unless done), fit a multi-exit vote on validation, evaluate on ``split``.

    Returns:
        The metrics of :func:`evaluate`, with ``train_minutes``, the code the run was trained
        with (``code``, ``code_warning``: see :func:`_reuse_or_train`; kept in the job's results
        JSON) and, for a multi-exit student, ``vote_weights`` (the fit on validation).
    """
    trained = _reuse_or_train(key, name, config, work_dir, options, epochs)
    minutes = trained['train_minutes']
    eval_opts = options + eval_options(split, test_size)
    if key not in MULTI_EXIT:
        metrics = evaluate(config, work_dir, split, eval_opts)
    else:  # the vote with weights fitted on the validation split
        evaluate(config, work_dir, 'val', options + eval_options('val', None))
        fitted = fit_run_vote(work_dir)
        where = MULTI_EXIT[key]
        weights = ','.join(str(w) for w in fitted['weights'])
        print(f'[main job]   {name}: vote weights {fitted["weights"]} fitted on validation '
              f'({fitted["accuracy"]:.2f}% there; exits '
              f'{", ".join(f"{a:.2f}" for a in fitted["exit_accuracy"])}%, equal weights '
              f'{fitted["soft_accuracy"]:.2f}%)', flush=True)
        metrics = evaluate(config, work_dir, split, eval_opts + [
            f'{where}.vote=weighted', f'{where}.vote_weights=[{weights}]'],
                           f'{split}_fitted_vote')
        metrics['vote_weights'] = fitted
    metrics.update(trained)  # train_minutes, and the code it was trained with
    print(f'[main job]   {name}: top-1 {metrics.get("accuracy/top1", float("nan")):.2f}% on '
          f'{split} ({minutes} min training)', flush=True)
    return metrics
