from .multi_exit_accuracy import MultiExitAccuracy

__all__ = ['MultiExitAccuracy']
