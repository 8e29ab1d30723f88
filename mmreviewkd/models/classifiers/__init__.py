from .multi_exit_classifier import MultiExitClassifier

__all__ = ['MultiExitClassifier']
