"""The main job on the embedded default data: distillation on Fashion-MNIST, end to end.

Trains the ResNet-56 teacher, then the ResNet-20 student alone, with classic KD, with ReviewKD
and with TSKD (multi-exit student: its deepest exit, its equal-weight vote and its vote with
weights fitted on the validation split are reported), each through ``tools/train.py``, evaluates
every final checkpoint with ``tools/test.py`` and prints the accuracies side by side.
``--methods`` adds ReviewKD + KD, BYOT and TSKD + ReviewKD (and the validation candidates).

    python tools/fmnist_main_job.py                   # quick default, about 15 min on 2 idle cores
    python tools/fmnist_main_job.py --eval-split val  # the same runs, judged on validation
    python tools/fmnist_main_job.py --full            # all 55000 training images, 15 epochs

Data (docs/main_job.md): runs train on the first images of the first 55 000 training images; the
last 5 000 are the validation split, where every setting was chosen and multi-exit vote weights
are fitted; the test set (all 10 000 images by default) only produces the reported numbers.
Every accuracy is printed with its binomial standard error, and every student with its paired
difference to the student alone on the same images (:mod:`mmreviewkd.evaluation.uncertainty`),
marked ``*`` beyond 2 standard errors and ``(within noise)`` otherwise; the published protocol's
mean +- std at the same settings is shown beside it, so a run can be judged typical or not.

The logic lives in :mod:`mmreviewkd.experiments.main_job` (with ``main_job_runs``,
``main_job_table`` and ``fmnist_recipe`` beside it). Writes under ``--work-dir`` (default
``work_dirs/fmnist_main``): one folder per run (logs, checkpoints, ``test_metrics_<split>.json``,
``predictions_<split>.pkl``, ``vote_weights.json``), ``results_<split>.json`` and
``results_<split>.md``. The teacher is cached by its settings, and finished trainings are reused,
so an interrupted job continues where it stopped.
"""
from mmreviewkd.experiments.main_job import main

if __name__ == '__main__':
    main()
