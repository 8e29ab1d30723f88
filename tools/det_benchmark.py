"""The detection protocol on the embedded data: the student detector alone vs with ReviewKD.

    python tools/det_benchmark.py            # teacher once, HCL weight chosen, 3 paired seeds
    python tools/det_benchmark.py --quick    # smoke run: a few canvases, one epoch

The logic lives in :mod:`mmreviewkd.experiments.det_protocol`. Generates Fashion-MNIST canvases
(train / holdout / val), trains the teacher (Faster R-CNN R50-FPN) once, chooses ReviewKD's HCL
weight on the holdout canvases at ``--choice-seed`` (not a published seed), then trains the
student (Faster R-CNN R18-FPN) alone and with ReviewKD on the identical schedule per seed and
evaluates both with MMDet's CocoMetric on the val canvases. Finished runs are reused: an
interrupted protocol resumes where it stopped.

Writes ``protocol.json`` (settings, teacher AP, the HCL-weight choice, per-seed box AP, mean +-
std, paired differences, each run's seconds, s/iter and peak memory) and ``protocol.png``
(box AP per seed) into ``--work-dir`` (or ``--out``); ``tools/analysis_tools/results_tables.py``
renders the published one into configs/reviewkd_det/README.md.
"""
from mmreviewkd.experiments.det_protocol import main

if __name__ == '__main__':
    main()
