"""The loss of teacher-student collaborative distillation (TSKD) for a multi-exit student."""
from typing import Dict, Sequence

import torch.nn.functional as F
from torch import Tensor, nn

from mmreviewkd.registry import MODELS


def kd_kl(student_logits: Tensor, target_logits: Tensor, temperature: float) -> Tensor:
    """Hinton's KD term: ``T^2 * KL(softmax(target / T) || softmax(student / T))``, batch mean.

    Args:
        student_logits (Tensor): (N, C).
        target_logits (Tensor): (N, C); treated as a constant (detached).
        temperature (float): T.
    """
    t = temperature
    log_p_s = F.log_softmax(student_logits / t, dim=1)
    p_t = F.softmax(target_logits.detach() / t, dim=1)
    return F.kl_div(log_p_s, p_t, reduction='batchmean') * t * t


def feature_l2(feat: Tensor, target: Tensor) -> Tensor:
    """Mean squared difference between an exit's pooled feature and the (detached) target."""
    return F.mse_loss(feat, target.detach())


@MODELS.register_module()
class TSKDLoss(nn.Module):
    """Loss terms of TSKD for K exits (shallow -> deep; exit K is the deepest).

    For every exit k:

    * ``ce_weight * CE(logits_k, y)``
    * ``teacher_kd_weight * KD(logits_k, teacher_logits; T)``

    and for every shallower exit k < K (self-distillation from the deepest exit, which is
    detached so these terms send no gradient into it):

    * ``self_kd_weight * KD(logits_k, logits_K; T)``
    * ``feature_weight * MSE(feat_k, feat_K)``

    The defaults are BYOT's (Zhang et al., ICCV 2019): T = 3, CE / KD mix 0.7 / 0.3, feature
    weight 0.03; TSKD's paper does not publish its exact weights, and using BYOT's KD weight for
    the teacher term too is our choice.

    Args:
        temperature (float): KD temperature T. Defaults to 3.0.
        ce_weight (float): Defaults to 0.7.
        teacher_kd_weight (float): Defaults to 0.3.
        self_kd_weight (float): Defaults to 0.3.
        feature_weight (float): Defaults to 0.03.
    """

    def __init__(self,
                 temperature: float = 3.0,
                 ce_weight: float = 0.7,
                 teacher_kd_weight: float = 0.3,
                 self_kd_weight: float = 0.3,
                 feature_weight: float = 0.03) -> None:
        super().__init__()
        for name, value in (('temperature', temperature), ('ce_weight', ce_weight),
                            ('teacher_kd_weight', teacher_kd_weight),
                            ('self_kd_weight', self_kd_weight), ('feature_weight', feature_weight)):
            if value < 0 or (name == 'temperature' and value == 0):
                raise ValueError(f'TSKDLoss: `{name}` must be {"> 0" if name == "temperature" else ">= 0"}, got {value}')  # noqa: E501
        self.temperature = temperature
        self.ce_weight = ce_weight
        self.teacher_kd_weight = teacher_kd_weight
        self.self_kd_weight = self_kd_weight
        self.feature_weight = feature_weight

    def forward(self, exit_logits: Sequence[Tensor], exit_feats: Sequence[Tensor],
                labels: Tensor, teacher_logits: Tensor = None) -> Dict[str, Tensor]:
        """Compute every term.

        Args:
            exit_logits (Sequence[Tensor]): K tensors (N, C), shallow -> deep.
            exit_feats (Sequence[Tensor]): K pooled features (N, D).
            labels (Tensor): (N,) class indices.
            teacher_logits (Tensor, optional): (N, C); without it the teacher terms are skipped
                (BYOT).

        Returns:
            dict[str, Tensor]: ``loss_ce_exit{k}``, ``loss_kd_exit{k}``, ``loss_sd_exit{k}``,
            ``loss_feat_exit{k}`` (k = 1..K, 1-based).
        """
        k_deep = len(exit_logits) - 1
        losses = {}
        for k, (logits, feat) in enumerate(zip(exit_logits, exit_feats)):
            name = f'exit{k + 1}'
            losses[f'loss_ce_{name}'] = self.ce_weight * F.cross_entropy(logits, labels)
            if teacher_logits is not None and self.teacher_kd_weight > 0:
                losses[f'loss_kd_{name}'] = self.teacher_kd_weight * kd_kl(
                    logits, teacher_logits, self.temperature)
            if k < k_deep:
                if self.self_kd_weight > 0:
                    losses[f'loss_sd_{name}'] = self.self_kd_weight * kd_kl(
                        logits, exit_logits[k_deep], self.temperature)
                if self.feature_weight > 0:
                    losses[f'loss_feat_{name}'] = self.feature_weight * feature_l2(
                        feat, exit_feats[k_deep])
        return losses
