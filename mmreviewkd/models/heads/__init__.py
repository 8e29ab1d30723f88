from .bottleneck_exit import BottleneckExit

__all__ = ['BottleneckExit']
