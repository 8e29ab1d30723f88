"""Write the student of a distillation checkpoint as a plain MMPretrain / MMDet checkpoint.

    python tools/model_converters/export_student.py work_dirs/X/epoch_240.pth student.pth

The result has no teacher, no connector (ABF) and no optimizer entries; it loads into the
student's own config (e.g. ``configs/fashion_mnist/resnet20_fmnist.py``) with ``tools/test.py``.
For a plain (non-distillation) checkpoint pass ``--prefix ''`` to just strip the training state.
"""
import argparse

import mmreviewkd  # noqa: F401
from mmreviewkd.apis.export import export_student


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('src', help='distillation checkpoint')
    parser.add_argument('dst', help='output student checkpoint')
    parser.add_argument('--prefix', default='architecture.',
                        help="prefix of the student's keys (default: architecture.)")
    args = parser.parse_args(argv)
    state = export_student(args.src, args.dst, student_prefix=args.prefix)
    print(f'wrote {len(state)} student tensors to {args.dst}')


if __name__ == '__main__':
    main()
