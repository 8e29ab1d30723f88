"""A multi-exit image classifier (the TSKD student) on any MMPretrain backbone."""
import copy
from typing import Dict, List, Optional, Sequence, Tuple

import torch
import torch.nn.functional as F
from mmpretrain.models.classifiers import ImageClassifier
from mmpretrain.structures import DataSample
from torch import Tensor, nn

from mmreviewkd.registry import MODELS
from ..utils.ensemble import (Threshold, check_vote_rule, early_exit, ensemble_vote,
                              exit_thresholds)
from ..utils.shape_inference import dry_forward, record_shapes


@MODELS.register_module()
class MultiExitClassifier(ImageClassifier):
    """An ``ImageClassifier`` with extra exits on intermediate backbone stages.

    The backbone must return several stages (``out_indices``). The deepest exit is the normal
    neck + head on the last stage; every stage listed in ``exit_indices`` gets an exit branch
    (``exit_cfg``, default :class:`BottleneckExit`) whose channels and down-sampling are derived
    from a dry forward on ``input_shape`` at build time.

    ``mode='tensor'`` returns the deepest exit's logits (so the model drops in wherever a plain
    classifier is expected); :meth:`forward_exits` returns every exit's logits and pooled
    feature; ``mode='predict'`` returns the vote of the exits and keeps every exit's scores in
    ``data_sample.exit_scores`` (K, C).

    Args:
        backbone, neck, head (dict): As for MMPretrain's ``ImageClassifier``; the head must have
            ``num_classes`` and ``pre_logits``.
        exit_indices (Sequence[int], optional): Indices into the backbone's outputs that get an
            exit. Defaults to all but the last.
        exit_cfg (dict): Config of an exit branch; ``in_channels``, ``out_channels``,
            ``num_classes``, ``in_size`` and ``out_size`` are filled in. Defaults to
            ``dict(type='mmreviewkd.BottleneckExit')``.
        input_shape (Sequence[int]): (C, H, W) of the dry forward. Defaults to (3, 32, 32).
        exit_loss_weights (Sequence[float], optional): Weights of each exit's CE when the model is
            trained alone. Defaults to 1 for every exit.
        self_distill (dict, optional): Train alone by self-distillation instead of plain CE per
            exit: the config of a loss called as ``loss(exit_logits, exit_feats, labels)``,
            e.g. ``dict(type='mmreviewkd.TSKDLoss', teacher_kd_weight=0)`` = BYOT (Zhang et al.,
            ICCV 2019; no teacher). Refused together with ``exit_loss_weights``. Defaults to
            None (CE on every exit).
        vote (str): ``'soft'`` (default), ``'hard'``, ``'weighted'`` or ``'exit'``.
        vote_weights (Sequence[float], optional): One weight per exit for ``'weighted'``.
        vote_exit (int): The exit used by ``vote='exit'``. Defaults to -1 (deepest).
        early_exit_threshold (float | Sequence[float], optional): If set, predict with early
            exit: the first exit whose top probability reaches its threshold answers; others
            fall back to the vote. One number for every exit, or one per exit (K values, or
            K - 1 for the shallow exits only); validated at build.
        early_exit_stagewise (bool): With ``early_exit_threshold``, run the backbone stage by
            stage and continue only with the samples no exit has answered yet, so early exit
            saves wall time and not only MACs (same predictions as the batched rule; the
            backbone must support ``forward_stage``, as this package's ResNetCifar and
            WideResNetCifar do). ``exit_scores`` then hold NaN for the exits a sample did not
            reach, so evaluate with ``Accuracy`` rather than ``MultiExitAccuracy``.
            Defaults to False (every exit runs; per-exit scores for every sample).
        **kwargs: Other ``ImageClassifier`` arguments (``data_preprocessor``, ``init_cfg`` ...).
    """

    def __init__(self,
                 backbone: dict,
                 neck: Optional[dict] = None,
                 head: Optional[dict] = None,
                 exit_indices: Optional[Sequence[int]] = None,
                 exit_cfg: Optional[dict] = None,
                 input_shape: Sequence[int] = (3, 32, 32),
                 exit_loss_weights: Optional[Sequence[float]] = None,
                 self_distill: Optional[dict] = None,
                 vote: str = 'soft',
                 vote_weights: Optional[Sequence[float]] = None,
                 vote_exit: int = -1,
                 early_exit_threshold: Optional[Threshold] = None,
                 early_exit_stagewise: bool = False,
                 **kwargs) -> None:
        super().__init__(backbone=backbone, neck=neck, head=head, **kwargs)
        check_vote_rule(vote, 'model.vote')
        self.vote = vote
        self.vote_weights = list(vote_weights) if vote_weights is not None else None
        self.vote_exit = vote_exit
        self.early_exit_threshold = early_exit_threshold
        self.early_exit_stagewise = early_exit_stagewise
        if early_exit_stagewise and not getattr(self.backbone, 'supports_stagewise', False):
            raise ValueError(
                f'model.early_exit_stagewise=True needs a backbone that runs stage by stage '
                f'(`forward_stage`); {type(self.backbone).__name__} does not. Set it to False '
                '(batched early exit: same predictions, no wall-time saving).')
        self.input_shape = tuple(input_shape)

        shapes = self._stage_shapes()
        n = len(shapes)
        if n < 2:
            raise ValueError('MultiExitClassifier: the backbone returns one stage; set several '
                             '`model.backbone.out_indices` to attach exits.')
        exit_indices = list(range(n - 1)) if exit_indices is None else list(exit_indices)
        if any(not 0 <= i < n - 1 for i in exit_indices):
            raise ValueError(f'model.exit_indices={exit_indices} must index the backbone\'s '
                             f'outputs 0..{n - 2} (the last one is the deepest exit)')
        self.exit_indices = exit_indices
        num_classes = self.head.num_classes
        deep_c, deep_h = shapes[-1][0], shapes[-1][1]
        self.exits = nn.ModuleList()
        for i in exit_indices:
            cfg = copy.deepcopy(exit_cfg or dict(type='mmreviewkd.BottleneckExit'))
            cfg.update(in_channels=shapes[i][0], out_channels=deep_c, num_classes=num_classes,
                       in_size=shapes[i][1], out_size=deep_h)
            self.exits.append(MODELS.build(cfg))
        self.num_exits = len(exit_indices) + 1
        if self_distill is not None and exit_loss_weights is not None:
            raise ValueError('model.self_distill and model.exit_loss_weights exclude each other: '
                             'the self-distillation loss sets the weight of every exit.')
        self.self_distill = MODELS.build(self_distill) if self_distill is not None else None
        self.exit_loss_weights = list(exit_loss_weights or [1.0] * self.num_exits)
        if len(self.exit_loss_weights) != self.num_exits:
            raise ValueError(f'model.exit_loss_weights needs {self.num_exits} entries, got '
                             f'{self.exit_loss_weights}')
        if vote == 'weighted':
            ensemble_vote(torch.ones(self.num_exits, 1, 1), 'weighted', self.vote_weights)
        if early_exit_threshold is not None:
            exit_thresholds(early_exit_threshold, self.num_exits, 'model.early_exit_threshold')

    def _stage_shapes(self) -> List[Tuple[int, int, int]]:
        """(C, H, W) of every backbone output, from a dry forward on ``input_shape``."""
        return record_shapes(dry_forward([self.backbone], self.input_shape, self.backbone))

    # ------------------------------------------------------------------ forward
    def forward_exits(self, inputs: Tensor) -> Tuple[List[Tensor], List[Tensor]]:
        """Every exit's logits and pooled feature, shallow -> deep.

        Args:
            inputs (Tensor): (N, C, H, W) images.

        Returns:
            tuple: K logits (N, num_classes) and K features (N, D) with D the deepest stage's
            channels.
        """
        stages = self.backbone(inputs)
        logits, feats = [], []
        for i, branch in zip(self.exit_indices, self.exits):
            lg, ft = branch(stages[i])
            logits.append(lg)
            feats.append(ft)
        pooled = self.neck(stages) if self.with_neck else stages
        feats.append(self.head.pre_logits(pooled))
        logits.append(self.head(pooled))
        return logits, feats

    def forward(self, inputs: Tensor, data_samples=None, mode: str = 'tensor'):
        if mode == 'tensor':
            return self.forward_exits(inputs)[0][-1]
        return super().forward(inputs, data_samples, mode)

    def loss(self, inputs: Tensor, data_samples: List[DataSample]) -> Dict[str, Tensor]:
        """The multi-exit model trained alone: CE on every exit, or ``self_distill``'s terms.

        Returns:
            dict: ``loss_ce_exit{k}`` for k = 1..K (K = deepest), plus ``loss_sd_exit{k}`` /
            ``loss_feat_exit{k}`` with ``self_distill``.
        """
        logits, feats = self.forward_exits(inputs)
        target = torch.cat([s.gt_label for s in data_samples]).to(inputs.device)
        if self.self_distill is not None:  # e.g. BYOT: CE + KL / L2 to the deepest exit
            return self.self_distill(logits, feats, target)
        return {f'loss_ce_exit{k + 1}': w * F.cross_entropy(lg, target)
                for k, (lg, w) in enumerate(zip(logits, self.exit_loss_weights))}

    def exit_probs(self, inputs: Tensor) -> Tensor:
        """(K, N, num_classes) softmax probabilities of every exit."""
        logits, _ = self.forward_exits(inputs)
        return torch.stack([F.softmax(lg, dim=1) for lg in logits])

    def predict(self, inputs: Tensor, data_samples: Optional[List[DataSample]] = None,
                **kwargs) -> List[DataSample]:
        """Vote of the exits (or early exit); every exit's scores kept in the samples."""
        if self.early_exit_threshold is not None and self.early_exit_stagewise:
            probs, scores, used = self.early_exit_stagewise_probs(inputs)
        else:
            probs, used = self.exit_probs(inputs), None
            if self.early_exit_threshold is not None:
                scores, used = early_exit(probs, self.early_exit_threshold, self.vote,
                                          self.vote_weights)
            else:
                scores = ensemble_vote(probs, self.vote, self.vote_weights, self.vote_exit)
        if data_samples is None:
            data_samples = [DataSample() for _ in range(inputs.shape[0])]
        labels = scores.argmax(1)
        for i, sample in enumerate(data_samples):  # copies: a view would pickle the whole batch
            sample.set_pred_score(scores[i].clone()).set_pred_label(labels[i])
            sample.set_field(probs[:, i].clone(), 'exit_scores', dtype=Tensor)
            if used is not None:
                sample.set_field(int(used[i]), 'exit_used', field_type='metainfo')
        return data_samples

    @torch.no_grad()
    def early_exit_stagewise_probs(self, inputs: Tensor) -> Tuple[Tensor, Tensor, Tensor]:
        """Early exit stage by stage: later stages run only on the samples still unanswered.

        Gives the scores and exits of :func:`early_exit` on the batched probabilities (BN in
        eval mode treats samples independently), computing each stage only where needed.

        Args:
            inputs (Tensor): (N, C, H, W) images.

        Returns:
            tuple: (K, N, C) probabilities (NaN for exits a sample did not reach), (N, C)
            scores and (N,) index of the exit used (K for the vote fallback).
        """
        backbone = self.backbone
        thresholds = exit_thresholds(self.early_exit_threshold, self.num_exits)
        out_pos = {stage: pos for pos, stage in enumerate(backbone.out_indices)}
        deepest_pos = len(backbone.out_indices) - 1
        n, k_exits = inputs.shape[0], self.num_exits
        probs = inputs.new_full((k_exits, n, self.head.num_classes), float('nan'))
        scores = inputs.new_zeros(n, self.head.num_classes)
        used = torch.full((n, ), -1, dtype=torch.long, device=inputs.device)
        alive = torch.arange(n, device=inputs.device)
        x = inputs
        for stage in range(backbone.out_indices[-1] + 1):
            x = backbone.forward_stage(x, stage)
            pos = out_pos.get(stage)
            if pos == deepest_pos:
                pooled = self.neck((x, )) if self.with_neck else (x, )
                probs[k_exits - 1, alive] = F.softmax(self.head(pooled), dim=1)
                break
            if pos is None or pos not in self.exit_indices:
                continue
            k = self.exit_indices.index(pos)
            p = F.softmax(self.exits[k](x)[0], dim=1)
            probs[k, alive] = p
            done = p.max(1).values >= thresholds[k]
            if done.any():
                scores[alive[done]] = p[done]
                used[alive[done]] = k
                alive, x = alive[~done], x[~done]
            if alive.numel() == 0:
                return probs, scores, used
        # the rest reached the deepest exit: it answers if confident, the vote otherwise
        rest_scores, rest_used = early_exit(probs[:, alive], self.early_exit_threshold,
                                            self.vote, self.vote_weights)
        scores[alive] = rest_scores
        used[alive] = rest_used
        return probs, scores, used
