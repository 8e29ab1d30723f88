"""ONNX export of a student: the graph holds the normalisation and matches PyTorch on real
Fashion-MNIST test images under onnxruntime (randomly initialised models, a few images)."""
import copy
import importlib.util
import json
import os.path as osp
import warnings

import numpy as np
import onnx
import onnxruntime as ort
import pytest
import torch
from mmengine.config import Config
from mmengine.registry import DefaultScope

from mmreviewkd.apis.onnx_check import build_test_loader, check_onnx, raw_batches
from mmreviewkd.apis.onnx_export import (DeployableClassifier, build_student, check_output_request,
                                         export_onnx)
from mmreviewkd.experiments.paths import project_root
from mmreviewkd.registry import MODELS

ROOT = project_root()
REVIEWKD = osp.join(ROOT, 'configs', 'fashion_mnist', 'reviewkd_resnet56_resnet20_fmnist.py')
TSKD = osp.join(ROOT, 'configs', 'tskd', 'tskd_resnet56_resnet20_fmnist.py')
BYOT = osp.join(ROOT, 'configs', 'tskd', 'byot_resnet20_fmnist.py')
ATOL = 1e-4
NUM_IMAGES = 24


def load_tool():
    path = osp.join(ROOT, 'tools', 'deployment', 'export_onnx.py')
    spec = importlib.util.spec_from_file_location('_export_onnx_tool', path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def config(path: str, fmnist_root: str, **options) -> Config:
    cfg = Config.fromfile(path)
    cfg.merge_from_dict({'test_dataloader.dataset.data_root': fmnist_root, **options})
    return cfg


def save_distill_checkpoint(cfg: Config, path) -> torch.nn.Module:
    """Build the whole distillation algorithm (random weights, no teacher checkpoint) and save
    its state dict the way training does."""
    torch.manual_seed(0)
    model_cfg = copy.deepcopy(cfg.model)
    model_cfg.teacher_ckpt = None
    with DefaultScope.overwrite_default_scope('mmreviewkd'):
        algo = MODELS.build(model_cfg).eval()
    torch.save(dict(state_dict=algo.state_dict(), meta=dict(epoch=1)), path)
    return algo


@pytest.fixture(scope='module')
def images(fmnist_root):
    """(N, 1, 28, 28) float 0-255 real test images through the config's test_dataloader."""
    loader = build_test_loader(config(REVIEWKD, fmnist_root), NUM_IMAGES, batch_size=8)
    batches = raw_batches(loader, NUM_IMAGES)
    return torch.cat([b['inputs'] for b in batches])


def run_onnx(path: str, raw: torch.Tensor) -> np.ndarray:
    session = ort.InferenceSession(path, providers=['CPUExecutionProvider'])
    return session.run(None, {'inputs': raw.numpy()})[0]


def preprocessed(algo, raw: torch.Tensor) -> torch.Tensor:
    """What MMEngine feeds the network: the algorithm's data preprocessor on the raw batch."""
    return algo.data_preprocessor(dict(inputs=raw), False)['inputs']


def assert_close(onnx_out: np.ndarray, torch_out: torch.Tensor) -> None:
    torch_out = torch_out.detach().numpy()
    assert onnx_out.shape == torch_out.shape
    assert np.abs(onnx_out - torch_out).max() <= ATOL
    assert (onnx_out.argmax(-1) == torch_out.argmax(-1)).all()


def test_reviewkd_student_exports_alone_with_its_normalisation(tmp_path, fmnist_root, images):
    algo = save_distill_checkpoint(config(REVIEWKD, fmnist_root), tmp_path / 'reviewkd.pth')
    result = load_tool().main([
        REVIEWKD, str(tmp_path / 'reviewkd.pth'), '--out-dir', str(tmp_path),
        '--num-images', str(NUM_IMAGES), '--batch-size', '8', '--cfg-options',
        f'test_dataloader.dataset.data_root={fmnist_root}'])
    assert result['passed'] and result['output'] == 'logits' and result['num_images'] == NUM_IMAGES
    assert result['max_abs_diff'] <= ATOL and result['top1_mismatches'] == 0
    assert result['images_per_s_onnxruntime'] > 0 and result['images_per_s_pytorch'] > 0
    saved = json.loads((tmp_path / 'onnx_check.json').read_text())
    assert saved['max_abs_diff'] == result['max_abs_diff'] and saved['exporter'] in (
        'dynamo', 'torchscript')

    graph = onnx.load(result['onnx_file']).graph
    batch_dim, *image_dims = graph.input[0].type.tensor_type.shape.dim
    assert batch_dim.dim_param and [d.dim_value for d in image_dims] == [1, 28, 28]
    # only the student: far fewer weights than student + teacher + ABF connectors
    onnx_numel = sum(int(np.prod(t.dims)) for t in graph.initializer)
    student_numel = sum(v.numel() for v in algo.student.state_dict().values())
    assert onnx_numel <= student_numel + 2

    # the reference of the distillation model itself: its preprocessor, then its student
    with torch.no_grad():
        reference = algo.student(preprocessed(algo, images), mode='tensor')
        unnormalised = algo.student(images, mode='tensor')
    onnx_out = run_onnx(result['onnx_file'], images)
    assert_close(onnx_out, reference)
    # the comparison sees a graph without the normalisation
    assert np.abs(onnx_out - unnormalised.numpy()).max() > 100 * ATOL


# the default (dynamo) exporter once, the fast TorchScript one for the other cases
@pytest.mark.parametrize('vote,exporter', [('soft', 'auto'), ('hard', 'torchscript')])
def test_tskd_vote_matches_the_models_own_prediction(tmp_path, fmnist_root, images, vote,
                                                     exporter):
    cfg = config(TSKD, fmnist_root, **{'model.architecture.vote': vote})
    algo = save_distill_checkpoint(cfg, tmp_path / 'tskd.pth')
    model, key = build_student(cfg, str(tmp_path / 'tskd.pth'))
    assert key == 'model.architecture' and model.num_exits == 3
    deployable = DeployableClassifier(model, 'vote', key=key)
    export_onnx(deployable, str(tmp_path / 'vote.onnx'), (1, 28, 28), exporter)
    with torch.no_grad():
        samples = algo.student.predict(preprocessed(algo, images))
    reference = torch.stack([s.pred_score for s in samples])
    assert_close(run_onnx(str(tmp_path / 'vote.onnx'), images), reference)


def test_exits_of_a_byot_model_have_shape_n_k_c(tmp_path, fmnist_root, images):
    cfg = config(BYOT, fmnist_root)
    torch.manual_seed(0)
    model, key = build_student(cfg)
    torch.save(dict(state_dict=model.state_dict()), tmp_path / 'byot.pth')
    model, key = build_student(cfg, str(tmp_path / 'byot.pth'))
    assert key == 'model'
    export_onnx(DeployableClassifier(model, 'exits', key=key), str(tmp_path / 'exits.onnx'),
                (1, 28, 28), exporter='torchscript')
    onnx_out = run_onnx(str(tmp_path / 'exits.onnx'), images)
    assert onnx_out.shape == (NUM_IMAGES, 3, 10)
    with torch.no_grad():
        probs = model.exit_probs(preprocessed(model, images))  # (K, N, C)
    assert_close(onnx_out, probs.transpose(0, 1))


def test_early_exit_and_impossible_outputs_are_refused_with_the_way_out(fmnist_root):
    cfg = config(TSKD, fmnist_root, **{'model.architecture.early_exit_threshold': 0.9})
    model, key = build_student(cfg)
    with pytest.raises(ValueError, match=r'static ONNX graph.*--output exits'):
        check_output_request(model, 'early-exit', key=key)
    with pytest.raises(ValueError, match=r'model\.architecture\.early_exit_threshold=0\.9.*'
                       r'--output exits.*model\.architecture\.vote'):
        DeployableClassifier(model, 'vote', key=key)
    DeployableClassifier(model, 'exits', key=key)  # the probabilities are fine
    with pytest.raises(ValueError, match='--exit 3: the model has 3 exits'):
        check_output_request(model, 'exit', 3, key)
    student, key = build_student(config(REVIEWKD, fmnist_root))
    with pytest.raises(ValueError, match=r'needs a multi-exit student.*model\.architecture'):
        check_output_request(student, 'vote', key=key)


def test_torchscript_fallback_and_a_graph_without_normalisation_fails_the_check(
        tmp_path, fmnist_root, images, monkeypatch):
    student, key = build_student(config(REVIEWKD, fmnist_root))
    deployable = DeployableClassifier(student, 'logits', key=key)
    real_export = torch.onnx.export

    def dynamo_fails(*args, dynamo=True, **kwargs):
        if dynamo:
            raise RuntimeError('no dynamo here')
        return real_export(*args, dynamo=False, **kwargs)

    monkeypatch.setattr(torch.onnx, 'export', dynamo_fails)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter('always')
        assert export_onnx(deployable, str(tmp_path / 'ts.onnx'), (1, 28, 28)) == 'torchscript'
    assert any('falling back to the TorchScript exporter' in str(w.message) for w in caught)
    batches = [dict(inputs=images[:12], labels=-torch.ones(12, dtype=torch.long)),
               dict(inputs=images[12:], labels=-torch.ones(12, dtype=torch.long))]
    result = check_onnx(str(tmp_path / 'ts.onnx'), student, batches, 'logits', atol=ATOL)
    assert result['passed'] and result['accuracy_top1'] is None and result['batch_size'] == 12

    deployable.normalization.normalize = False  # a graph that dropped the normalisation
    export_onnx(deployable, str(tmp_path / 'raw.onnx'), (1, 28, 28), exporter='torchscript')
    result = check_onnx(str(tmp_path / 'raw.onnx'), student, batches, 'logits', atol=ATOL)
    assert not result['passed'] and 'exceeds --atol' in result['failures'][0]
