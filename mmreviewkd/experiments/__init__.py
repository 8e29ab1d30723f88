"""The logic behind the repository's experiment tools, importable.

``tools/fmnist_main_job.py``, ``tools/fmnist_benchmark.py`` and the analysis tools are thin
command lines over these modules, so the scripts, the README generator
(``tools/analysis_tools/results_tables.py``) and the tests share one implementation instead of
loading each other's files by path:

* :mod:`.paths` - where the repository's ``configs/`` and ``tools/`` are.
* :mod:`.fmnist_recipe` - the Fashion-MNIST methods, data splits and training options.
* :mod:`.progress` - running a tool with its log, progress lines and the job's ETA.
* :mod:`.machine` - busy cores and the choice of intra-op threads.
* :mod:`.main_job_runs` / :mod:`.main_job` - the main job: train, evaluate, fit votes, report.
* :mod:`.main_job_table` - its table: top-1 +- s.e., paired differences, the protocol column.
* :mod:`.protocol` - the multi-seed protocol: mean +- std and paired differences.
* :mod:`.benchmark_tables` - the step, inference and early-exit tables.
"""
