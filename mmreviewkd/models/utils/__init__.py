from .ensemble import VOTE_RULES, check_vote_rule, early_exit, ensemble_vote

__all__ = ['VOTE_RULES', 'check_vote_rule', 'early_exit', 'ensemble_vote']
