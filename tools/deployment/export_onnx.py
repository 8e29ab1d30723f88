"""Export a trained student to ONNX and check it with onnxruntime on real test images.

    python tools/deployment/export_onnx.py CONFIG CHECKPOINT [--output logits|vote|exit|exits]
        [--exit K] [--out-dir DIR] [--num-images 1000] [--batch-size N] [--atol 1e-4]
        [--input-shape C H W] [--exporter auto|dynamo|torchscript] [--opset N]
        [--cfg-options k=v ...]

CONFIG and CHECKPOINT are what ``tools/test.py`` takes: a distillation config with its
checkpoint, or the plain student config with the whole or exported student checkpoint. Only
the student is exported (no teacher, no connectors), with its data preprocessor's
normalisation inside the graph: the ONNX model takes float (N, C, H, W) 0-255 pixels, as
``PackInputs`` gives them, and has a dynamic batch axis (see mmreviewkd/apis/onnx_export.py).

Outputs: ``logits`` (default of a plain student), ``vote`` (default of a multi-exit student:
the model's ``vote`` rule over the exits' probabilities), ``exit`` (one exit's logits,
``--exit K``, 0 = shallowest, -1 = deepest) and ``exits`` (N, K, C) probabilities. Early exit
is data-dependent control flow and cannot be exported: export ``exits`` and apply the
thresholds in the runtime.

Writes OUT_DIR/<config name>_<output>.onnx and OUT_DIR/onnx_check.json (max |onnx - pytorch|,
top-1 agreement, images/s of PyTorch eager and onnxruntime CPU on the first --num-images test
images). Exits non-zero when the difference exceeds --atol or any top-1 prediction differs.
"""
import argparse
import json
import os
import os.path as osp

import mmreviewkd  # noqa: F401
from mmreviewkd.apis import DictAction, build_runner_config


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Export a student to ONNX and check it')
    parser.add_argument('config', help='config file (distillation or plain student)')
    parser.add_argument('checkpoint', help='checkpoint file (as for tools/test.py)')
    parser.add_argument(
        '--output', choices=['logits', 'vote', 'exit', 'exits', 'early-exit'],
        help='what the graph returns; default: vote for a multi-exit student, else logits')
    parser.add_argument('--exit', type=int, default=-1, dest='exit_index',
                        help='exit of --output exit (0 = shallowest, -1 = deepest)')
    parser.add_argument('--out-dir', help='default: work_dirs/deploy/<config name>')
    parser.add_argument('--num-images', type=int, default=1000,
                        help='test images of the onnxruntime check (0: export only)')
    parser.add_argument('--batch-size', type=int,
                        help='batch size of the check; default: test_dataloader.batch_size')
    parser.add_argument('--atol', type=float, default=1e-4,
                        help='largest accepted |onnx - pytorch| of the outputs')
    parser.add_argument('--input-shape', type=int, nargs=3, metavar=('C', 'H', 'W'),
                        help='image shape of the export; default: model.input_shape, else '
                        'the first test image')
    parser.add_argument('--exporter', choices=['auto', 'dynamo', 'torchscript'],
                        default='auto', help='auto: dynamo, falling back to torchscript')
    parser.add_argument('--opset', type=int, help='ONNX opset (default: the exporter\'s)')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override config settings')
    return parser.parse_args(argv)


def main(argv=None) -> dict:
    from mmreviewkd.apis.onnx_check import build_test_loader, check_onnx, raw_batches
    from mmreviewkd.apis.onnx_export import (DeployableClassifier, build_student, export_onnx,
                                             is_multi_exit)
    args = parse_args(argv)
    name = osp.splitext(osp.basename(args.config))[0]
    out_dir = args.out_dir or osp.join('work_dirs', 'deploy', name)
    cfg = build_runner_config(args.config, work_dir=out_dir, cfg_options=args.cfg_options,
                              for_test=True)
    model, key = build_student(cfg, args.checkpoint)
    output = args.output or ('vote' if is_multi_exit(model) else 'logits')
    try:
        deployable = DeployableClassifier(model, output, args.exit_index, key)
    except (TypeError, ValueError) as e:  # early exit, an output the model does not have, ...
        raise SystemExit(f'cannot export --output {output}: {e}')
    batches = []
    if args.num_images > 0:
        loader = build_test_loader(cfg, args.num_images, args.batch_size)
        batches = raw_batches(loader, args.num_images)
    input_shape = (args.input_shape or cfg.model.get('input_shape')
                   or getattr(model, 'input_shape', None)
                   or (batches and tuple(batches[0]['inputs'].shape[1:])))
    if not input_shape:
        raise SystemExit('the image shape is unknown: pass --input-shape C H W')
    suffix = f'{output}{args.exit_index}' if output == 'exit' else output
    onnx_file = osp.join(out_dir, f'{name}_{suffix}.onnx')
    exporter = export_onnx(deployable, onnx_file, tuple(input_shape), args.exporter, args.opset)
    result = dict(config=args.config, checkpoint=args.checkpoint, onnx_file=onnx_file,
                  exporter=exporter, input_shape=list(input_shape))
    print(f'exported {key} ({type(model).__name__}, output={output}) to {onnx_file} with the '
          f'{exporter} exporter')
    if not batches:
        return result
    result.update(check_onnx(onnx_file, model, batches, output, args.exit_index, args.atol))
    os.makedirs(out_dir, exist_ok=True)
    with open(osp.join(out_dir, 'onnx_check.json'), 'w') as f:
        json.dump(result, f, indent=2)
    print(json.dumps(result, indent=2))
    if not result['passed']:
        raise SystemExit('ONNX check FAILED: ' + '; '.join(result['failures']) +
                         f' (details: {osp.join(out_dir, "onnx_check.json")})')
    return result


if __name__ == '__main__':
    main()
