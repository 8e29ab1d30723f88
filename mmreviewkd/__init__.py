"""mmreviewkd: ReviewKD and TSKD knowledge distillation for OpenMMLab through MMRazor.

Importing the package first applies the compatibility fixes for the pinned OpenMMLab stack on
current torch (:mod:`mmreviewkd.compat`), then sets up the registries.
"""
from . import compat  # noqa: F401  isort:skip  (must run before MMRazor is imported)
compat.apply()  # isort:skip

from .registry import MODELS  # noqa: E402,F401
from .version import __version__, version_info  # noqa: E402

__all__ = ['__version__', 'version_info', 'compat']
