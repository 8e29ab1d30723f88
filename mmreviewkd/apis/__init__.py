from .distributed import shutdown_distributed
from .runner_config import Config, DictAction, build_runner_config

__all__ = ['Config', 'DictAction', 'build_runner_config', 'shutdown_distributed']
