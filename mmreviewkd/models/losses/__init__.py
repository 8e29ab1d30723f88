from .hcl import HCLLoss, hcl_loss
from .tskd_loss import TSKDLoss, feature_l2, kd_kl

__all__ = ['HCLLoss', 'hcl_loss', 'TSKDLoss', 'kd_kl', 'feature_l2']
