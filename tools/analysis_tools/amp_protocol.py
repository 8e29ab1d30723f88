"""bf16 against fp32 on the Fashion-MNIST protocol, paired per seed (--amp runs, or --review-dtype).

The whole step under bf16 autocast (``--amp``), from two work dirs:

    python tools/fmnist_benchmark.py --seeds 0 1 2 --methods student kd reviewkd tskd \
        --work-dir work_dirs/fmnist_fp32 --out work_dirs/protocol_fp32
    python tools/fmnist_benchmark.py --seeds 0 1 2 --methods student kd reviewkd tskd \
        --work-dir work_dirs/fmnist_amp --out work_dirs/protocol_amp --amp
    python tools/analysis_tools/amp_protocol.py --seeds 0 1 2 [--out docs/results/bf16_protocol.json]

Only ReviewKD's review path in bf16 (``compute_dtype``), both arithmetics in one work dir:

    for s in 0 1 2 3 4; do for d in float32 bfloat16; do
        python tools/fmnist_main_job.py --methods reviewkd --seed $s --review-dtype $d \
            --threads 2 --work-dir work_dirs/rv_protocol; done; done
    python tools/analysis_tools/amp_protocol.py --review-dtype --seeds 0 1 2 3 4 \
        [--out docs/results/bf16_review_protocol.json]

Reads the main job's per-seed results of both work dirs (logic in
``mmreviewkd/experiments/amp_protocol.py``), prints the table and saves it as JSON (rendered into
docs/benchmarks.md by results_tables.py).
"""
import argparse
import os.path as osp

from mmreviewkd.experiments.amp_protocol import (REVIEW_DTYPE_RUNS, REVIEW_DTYPE_TEXT, compare,
                                                 format_comparison)
from mmreviewkd.experiments.json_io import write_json


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--fp32-work-dir', default='work_dirs/fmnist_fp32')
    parser.add_argument('--amp-work-dir', default='work_dirs/fmnist_amp')
    parser.add_argument('--review-dtype', action='store_true',
                        help='compare the --review-dtype float32 and bfloat16 runs of '
                             '--review-work-dir instead')
    parser.add_argument('--review-work-dir', default='work_dirs/rv_protocol')
    parser.add_argument('--seeds', type=int, nargs='+', default=[0, 1, 2])
    parser.add_argument('--commit', help='the commit the runs were trained at (recorded)')
    parser.add_argument('--out', help='default: work_dirs/benchmarks/bf16_protocol.json, or '
                                      'bf16_review_protocol.json with --review-dtype')
    args = parser.parse_args(argv)
    if args.review_dtype:
        result = compare(args.review_work_dir, args.review_work_dir, args.seeds,
                         suffixes=REVIEW_DTYPE_RUNS, what=REVIEW_DTYPE_TEXT)
    else:
        result = compare(args.fp32_work_dir, args.amp_work_dir, args.seeds)
    result['commit'] = args.commit
    if args.out is None:
        args.out = osp.join('work_dirs', 'benchmarks', 'bf16_review_protocol.json'
                            if args.review_dtype else 'bf16_protocol.json')
    print(format_comparison(result))
    write_json(result, args.out)
    return result


if __name__ == '__main__':
    main()
