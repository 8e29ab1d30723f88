"""The Fashion-MNIST protocol: every method, several paired seeds, mean +- std, paired differences.

    python tools/fmnist_benchmark.py                 # 5 seeds x 7 methods, main-job settings
    python tools/fmnist_benchmark.py --quick         # smoke run: 1 seed, tiny data

The logic lives in :mod:`mmreviewkd.experiments.protocol`. Runs the main job
(``tools/fmnist_main_job.py``) once per seed with every method (student alone, KD, ReviewKD,
ReviewKD + KD, BYOT, TSKD, TSKD + ReviewKD) in one work dir (default: the main job's), so the
teacher is trained once and cached and finished runs are reused: an interrupted protocol resumes
where it stopped, and re-running a finished one only rebuilds the report. Seeds are paired across
methods: seed s gives every method the same initialisation seed and data order. Multi-exit
students' vote weights are fitted on the validation split (the last 5 000 training images); the
test set is only evaluated.

Writes ``summary.json`` (per row: mean, std, per-seed values, paired differences per seed
against the student alone, KD and BYOT's vote, parameters and MACs per image at inference),
``summary.md`` (generated from the JSON) and ``accuracy.png`` into ``--out``.
"""
from mmreviewkd.experiments.protocol import main

if __name__ == '__main__':
    main()
