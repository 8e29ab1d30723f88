from .hcl import HCLLoss, hcl_loss

__all__ = ['HCLLoss', 'hcl_loss']
