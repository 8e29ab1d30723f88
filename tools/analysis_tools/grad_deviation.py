"""How far each speed option moves ReviewKD's loss and gradients, against the official
formulation in fp32 and in float64 (one training step of the committed R56 -> R20 CIFAR-100
config with random weights; logic in ``mmreviewkd/experiments/grad_deviation.py``).

    python tools/analysis_tools/grad_deviation.py [--batch 16] [--out work_dirs/benchmarks/grad_deviation.json]

Figures are printed and saved as JSON (published copy: docs/results/grad_deviation.json, rendered
into configs/reviewkd/README.md by results_tables.py); nothing is asserted.
"""
import argparse

from mmreviewkd.experiments.grad_deviation import measure
from mmreviewkd.experiments.json_io import write_json


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--pair', default='resnet56:resnet20')
    parser.add_argument('--batch', type=int, default=16)
    parser.add_argument('--out', default='work_dirs/benchmarks/grad_deviation.json')
    args = parser.parse_args(argv)
    teacher, student = args.pair.split(':')
    result = measure(teacher, student, args.batch)
    write_json(result, args.out)
    return result


if __name__ == '__main__':
    main()
