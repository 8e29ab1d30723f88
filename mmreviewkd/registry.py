"""Registries of mmreviewkd: children of MMRazor's, scope ``'mmreviewkd'``.

Every registry has ``locations`` so that building a type in the ``mmreviewkd`` scope imports the
module that registers it. Because the parents are MMRazor's (whose parents are MMEngine's roots),
a config with ``default_scope='mmreviewkd'`` resolves

* unprefixed mmreviewkd, MMRazor and MMEngine types, and
* ``mmpretrain.X``, ``mmdet.X``, ``mmrazor.X`` and ``mmreviewkd.X`` from any scope,

with no ``custom_imports`` and no PYTHONPATH tricks.

Every MMRazor registry has a child here, also those without an mmreviewkd module: the Runner
builds each component (loops, schedulers, visualizer, samplers, transforms, ...) in the current
scope, and MMEngine warns and falls back to its root for a scope without that registry.

The compatibility fixes (:mod:`mmreviewkd.compat`) that make MMRazor importable on current torch
are already applied when this module runs: importing ``mmreviewkd.registry`` imports the package
``mmreviewkd`` first, whose ``__init__`` applies them, once.
"""
from mmengine.registry import Registry
from mmrazor.registry import DATA_SAMPLERS as MMRAZOR_DATA_SAMPLERS
from mmrazor.registry import DATASETS as MMRAZOR_DATASETS
from mmrazor.registry import HOOKS as MMRAZOR_HOOKS
from mmrazor.registry import LOOPS as MMRAZOR_LOOPS
from mmrazor.registry import METRICS as MMRAZOR_METRICS
from mmrazor.registry import MODEL_WRAPPERS as MMRAZOR_MODEL_WRAPPERS
from mmrazor.registry import MODELS as MMRAZOR_MODELS
from mmrazor.registry import OPTIM_WRAPPER_CONSTRUCTORS as MMRAZOR_OPTIM_WRAPPER_CONSTRUCTORS
from mmrazor.registry import OPTIM_WRAPPERS as MMRAZOR_OPTIM_WRAPPERS
from mmrazor.registry import OPTIMIZERS as MMRAZOR_OPTIMIZERS
from mmrazor.registry import PARAM_SCHEDULERS as MMRAZOR_PARAM_SCHEDULERS
from mmrazor.registry import RUNNERS as MMRAZOR_RUNNERS
from mmrazor.registry import TASK_UTILS as MMRAZOR_TASK_UTILS
from mmrazor.registry import TRANSFORMS as MMRAZOR_TRANSFORMS
from mmrazor.registry import VISBACKENDS as MMRAZOR_VISBACKENDS
from mmrazor.registry import VISUALIZERS as MMRAZOR_VISUALIZERS
from mmrazor.registry import WEIGHT_INITIALIZERS as MMRAZOR_WEIGHT_INITIALIZERS

_MODELS = ['mmreviewkd.models']

RUNNERS = Registry('runner', parent=MMRAZOR_RUNNERS, locations=['mmreviewkd.engine'])
LOOPS = Registry('loop', parent=MMRAZOR_LOOPS, locations=['mmreviewkd.engine'])
HOOKS = Registry('hook', parent=MMRAZOR_HOOKS, locations=['mmreviewkd.engine'])
DATASETS = Registry('dataset', parent=MMRAZOR_DATASETS, locations=['mmreviewkd.datasets'])
DATA_SAMPLERS = Registry(
    'data sampler', parent=MMRAZOR_DATA_SAMPLERS, locations=['mmreviewkd.datasets'])
TRANSFORMS = Registry(
    'transform', parent=MMRAZOR_TRANSFORMS, locations=['mmreviewkd.datasets'])
MODELS = Registry('model', parent=MMRAZOR_MODELS, locations=_MODELS)
MODEL_WRAPPERS = Registry('model_wrapper', parent=MMRAZOR_MODEL_WRAPPERS, locations=_MODELS)
WEIGHT_INITIALIZERS = Registry(
    'weight initializer', parent=MMRAZOR_WEIGHT_INITIALIZERS, locations=_MODELS)
TASK_UTILS = Registry('task util', parent=MMRAZOR_TASK_UTILS, locations=_MODELS)
OPTIMIZERS = Registry('optimizer', parent=MMRAZOR_OPTIMIZERS, locations=['mmreviewkd.engine'])
OPTIM_WRAPPERS = Registry(
    'optim_wrapper', parent=MMRAZOR_OPTIM_WRAPPERS, locations=['mmreviewkd.engine'])
OPTIM_WRAPPER_CONSTRUCTORS = Registry(
    'optimizer wrapper constructor',
    parent=MMRAZOR_OPTIM_WRAPPER_CONSTRUCTORS,
    locations=['mmreviewkd.engine'])
PARAM_SCHEDULERS = Registry(
    'parameter scheduler', parent=MMRAZOR_PARAM_SCHEDULERS, locations=['mmreviewkd.engine'])
METRICS = Registry('metric', parent=MMRAZOR_METRICS, locations=['mmreviewkd.evaluation'])
VISUALIZERS = Registry(
    'visualizer', parent=MMRAZOR_VISUALIZERS, locations=['mmreviewkd.visualization'])
VISBACKENDS = Registry(
    'vis_backend', parent=MMRAZOR_VISBACKENDS, locations=['mmreviewkd.visualization'])


def _expose_to_root(*registries: Registry) -> None:
    """Make ``mmreviewkd.X`` resolvable from every other scope.

    MMEngine resolves a prefixed key from a foreign scope (e.g. ``mmreviewkd.ResNetCifar``
    inside an ``mmpretrain`` config) by looking the prefix up among the *root* registry's direct
    children only. Ours are grandchildren (root -> mmrazor -> mmreviewkd), so such lookups would
    fail. We additionally list each node among the root's children; its parent stays MMRazor's,
    so unprefixed MMRazor types still resolve in the ``mmreviewkd`` scope.
    """
    for registry in registries:
        root = registry._get_root_registry()
        root._children.setdefault(registry.scope, registry)


_expose_to_root(RUNNERS, LOOPS, HOOKS, DATASETS, DATA_SAMPLERS, TRANSFORMS, MODELS,
                MODEL_WRAPPERS, WEIGHT_INITIALIZERS, TASK_UTILS, OPTIMIZERS, OPTIM_WRAPPERS,
                OPTIM_WRAPPER_CONSTRUCTORS, PARAM_SCHEDULERS, METRICS, VISUALIZERS, VISBACKENDS)
