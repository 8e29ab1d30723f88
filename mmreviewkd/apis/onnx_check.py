"""Checking an exported ONNX student against PyTorch on real test images with onnxruntime.

The PyTorch reference runs the way MMEngine runs the model: the model's own data preprocessor
normalises the batch, then the student computes the output. The ONNX side gets the same raw
(N, C, H, W) 0-255 batch, so a graph that dropped or changed the normalisation fails the check.
"""
import copy
import time
from typing import Dict, List, Optional

import numpy as np
import torch
from torch import Tensor, nn

from .onnx_export import select_output


def build_test_loader(cfg, num_images: int, batch_size: Optional[int] = None):
    """The config's ``test_dataloader`` (MMEngine's ``Runner.build_dataloader``), in-process.

    Args:
        cfg (Config): The config.
        num_images (int): Images wanted: the dataset is cut to its first ``num_images`` when
            the config does not select ``indices`` itself.
        batch_size (int, optional): Overrides ``test_dataloader.batch_size``.

    Returns:
        DataLoader: With ``num_workers=0`` (no worker processes for a short check).
    """
    from mmengine.registry import DefaultScope
    from mmengine.runner import Runner
    loader_cfg = copy.deepcopy(cfg.test_dataloader)
    loader_cfg.update(num_workers=0, persistent_workers=False)
    if batch_size is not None:
        loader_cfg['batch_size'] = batch_size
    if loader_cfg['dataset'].get('indices') is None:
        loader_cfg['dataset']['indices'] = num_images
    with DefaultScope.overwrite_default_scope(cfg.get('default_scope', 'mmreviewkd')):
        return Runner.build_dataloader(loader_cfg)


def raw_batches(loader, num_images: int) -> List[Dict[str, Tensor]]:
    """The first ``num_images`` images of ``loader`` as stacked batches.

    Returns:
        list[dict]: ``inputs`` (N, C, H, W) float 0-255 images as ``PackInputs`` gives them and
        ``labels`` (N,) ground-truth classes (-1 where a sample has none).
    """
    batches, left = [], num_images
    for data in loader:
        inputs = data['inputs']
        inputs = torch.stack(list(inputs)) if isinstance(inputs, (list, tuple)) else inputs
        samples = data.get('data_samples') or []
        labels = torch.tensor([int(s.gt_label[0]) if 'gt_label' in s else -1 for s in samples])
        batches.append(dict(inputs=inputs[:left].float(), labels=labels[:left]))
        left -= len(batches[-1]['inputs'])
        if left <= 0:
            break
    return batches


@torch.no_grad()
def reference_output(model: nn.Module, raw: Tensor, output: str, exit_index: int = -1) -> Tensor:
    """The PyTorch output: ``model.data_preprocessor`` normalises, :func:`select_output` runs.

    Args:
        model (nn.Module): The student in eval mode.
        raw (Tensor): (N, C, H, W) 0-255 images.
        output (str): As exported.
        exit_index (int): The exit of ``'exit'``.

    Returns:
        Tensor: The output, (N, C) or (N, K, C).
    """
    inputs = model.data_preprocessor(dict(inputs=raw), False)['inputs']
    return select_output(model, inputs, output, exit_index)


def check_onnx(onnx_path: str, model: nn.Module, batches: List[Dict[str, Tensor]], output: str,
               exit_index: int = -1, atol: float = 1e-4,
               threads: Optional[int] = None) -> dict:
    """Run the ONNX file with onnxruntime (CPU) and the PyTorch model on the same batches.

    Both sides are timed on the same batches (interleaved, after one warm-up batch); the
    PyTorch time includes the data preprocessor, the ONNX one the normalisation in the graph.

    Args:
        onnx_path (str): The exported file.
        model (nn.Module): The student the file was exported from, in eval mode.
        batches (list[dict]): From :func:`raw_batches`.
        output (str): The exported output (``'logits'``, ``'vote'``, ``'exit'``, ``'exits'``).
        exit_index (int): The exit of ``'exit'``.
        atol (float): Largest accepted absolute difference. Defaults to 1e-4.
        threads (int, optional): onnxruntime intra-op threads. Defaults to PyTorch's.

    Returns:
        dict: ``num_images``, ``batch_size``, ``max_abs_diff``, ``top1_mismatches``,
        ``top1_agreement``, ``accuracy_top1`` (onnxruntime, None for ``'exits'`` or unlabelled
        data), ``images_per_s_pytorch``, ``images_per_s_onnxruntime``, ``threads``, ``atol``,
        ``passed`` and ``failures`` (messages; empty when passed).

    Raises:
        ValueError: When ``batches`` holds no image.
    """
    import onnxruntime as ort
    if not batches or not len(batches[0]['inputs']):
        raise ValueError('no test image to check the ONNX model on (--num-images > 0 and a '
                         'non-empty test_dataloader are needed)')
    threads = threads or torch.get_num_threads()
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    session = ort.InferenceSession(onnx_path, options, providers=['CPUExecutionProvider'])
    input_name = session.get_inputs()[0].name

    def run_onnx(raw: Tensor) -> np.ndarray:
        return session.run(None, {input_name: raw.numpy()})[0]

    run_onnx(batches[0]['inputs'])  # warm-up
    reference_output(model, batches[0]['inputs'], output, exit_index)
    onnx_outs, torch_outs, onnx_time, torch_time = [], [], 0.0, 0.0
    for batch in batches:  # interleaved, so load from other processes hits both alike
        start = time.perf_counter()
        onnx_outs.append(run_onnx(batch['inputs']))
        middle = time.perf_counter()
        torch_outs.append(reference_output(model, batch['inputs'], output, exit_index).numpy())
        onnx_time += middle - start
        torch_time += time.perf_counter() - middle

    onnx_out, torch_out = np.concatenate(onnx_outs), np.concatenate(torch_outs)
    labels = torch.cat([b['labels'] for b in batches]).numpy()
    n = len(onnx_out)
    max_diff = float(np.abs(onnx_out - torch_out).max())
    mismatches = int((onnx_out.argmax(-1) != torch_out.argmax(-1)).sum())
    accuracy = None
    if output != 'exits' and (labels >= 0).all():
        accuracy = float((onnx_out.argmax(-1) == labels).mean())
    failures = []
    if not max_diff <= atol:  # also catches NaN
        failures.append(f'max |onnx - pytorch| = {max_diff:.3g} exceeds --atol {atol:g}')
    if mismatches:
        failures.append(f'top-1 differs on {mismatches} of {onnx_out[..., 0].size} predictions')
    return dict(
        output=output, output_shape=[None, *onnx_out.shape[1:]], num_images=n,
        batch_size=max(len(b['inputs']) for b in batches), max_abs_diff=max_diff,
        top1_mismatches=mismatches,
        top1_agreement=1.0 - mismatches / onnx_out[..., 0].size, accuracy_top1=accuracy,
        images_per_s_pytorch=n / torch_time, images_per_s_onnxruntime=n / onnx_time,
        threads=threads, atol=atol, passed=not failures, failures=failures)
