from .compact_dump_results import CompactDumpResults
from .multi_exit_accuracy import MultiExitAccuracy

__all__ = ['CompactDumpResults', 'MultiExitAccuracy']
