"""Whether mmcv's compiled ops are installed, and one clear error where a config needs them.

``bash tools/setup_env.sh`` installs ``mmcv-lite`` (mmcv without compiled ops, no compiler
needed): MMPretrain, MMRazor, ReviewKD and TSKD on classifiers work with it. MMDetection's models
import ``mmcv.ops`` (NMS, RoIAlign, ...), which needs ``mmcv`` built with ops
(``bash tools/setup_env.sh --with-ops``). Without them MMDetection fails deep inside its imports
with ``ModuleNotFoundError: No module named 'mmcv._ext'``; the tools call
:func:`check_mmcv_ops_for_config` first so the user reads what to run instead.
"""
import importlib
from typing import Any, Optional

SETUP_HINT = 'bash tools/setup_env.sh --with-ops'


class MMCVOpsMissingError(ImportError):
    """Raised when a model needs mmcv's compiled ops and only mmcv-lite is installed."""


def mmcv_ops_available() -> bool:
    """Whether ``mmcv._ext`` (the compiled ops) imports in this process."""
    try:
        importlib.import_module('mmcv._ext')
    except ImportError:
        return False
    return True


def _mmdet_key(node: Any, key: str) -> Optional[str]:
    """The first config key under ``node`` that builds an MMDetection type, or None."""
    if isinstance(node, dict):
        scope = node.get('_scope_')
        typ = node.get('type')
        if scope == 'mmdet' or (isinstance(typ, str) and typ.startswith('mmdet.')):
            return key
        for k, v in node.items():
            found = _mmdet_key(v, f'{key}.{k}')
            if found:
                return found
    elif isinstance(node, (list, tuple)):
        for i, v in enumerate(node):
            found = _mmdet_key(v, f'{key}.{i}')
            if found:
                return found
    return None


def check_mmcv_ops_for_config(cfg: Any) -> None:
    """Refuse, before anything is built, a config whose model needs mmcv's compiled ops when
    they are not installed.

    A model needs them when it builds MMDetection types: ``default_scope='mmdet'`` or any
    ``model`` entry with ``_scope_='mmdet'`` or ``type='mmdet.*'``.

    Args:
        cfg (Config | dict): The runner config.

    Raises:
        MMCVOpsMissingError: naming the config key that asks for MMDetection and the setup
            command that installs the ops.
    """
    key = 'default_scope' if cfg.get('default_scope') == 'mmdet' else None
    key = key or _mmdet_key(cfg.get('model'), 'model')
    if key is None or mmcv_ops_available():
        return
    raise MMCVOpsMissingError(
        f'`{key}` builds an MMDetection model, which needs mmcv\'s compiled ops (NMS, RoIAlign, '
        f'...), but this environment has mmcv-lite (mmcv without ops). Install them once per '
        f'machine with `{SETUP_HINT}` (compiles mmcv 2.1.0, 10-20 minutes on 2 cores; the '
        f'wheel is cached and reused).')
