from .inplace import disable_inplace

__all__ = ['disable_inplace']
