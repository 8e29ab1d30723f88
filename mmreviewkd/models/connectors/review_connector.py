"""The ReviewKD review path as one MMRazor connector: student feature list in, fused list out."""
from typing import List, Optional, Sequence, Tuple

import torch
from mmengine.logging import print_log
from torch import Tensor, nn

from mmreviewkd.registry import MODELS
from mmreviewkd.utils.cpu_bf16 import cpu_has_native_bf16
from .abf import ABF
from .shape_aware_connector import Shape, ShapeAwareConnector


def review_mid_channels(student_channels: Sequence[int], cap: int = 512) -> int:
    """The official CIFAR rule: ``min(cap, channels of the deepest student feature)``."""
    return min(cap, int(student_channels[-1]))


COMPUTE_DTYPES = ('float32', 'bfloat16', 'auto')


@MODELS.register_module()
class ReviewKDConnector(ShapeAwareConnector):
    """The whole ABF review chain of ReviewKD, run once over the student's feature list.

    The student's features arrive shallow -> deep (stage outputs, then the pooled feature as a
    1x1 map). They are reviewed deepest first: the deepest ABF transforms the deepest feature
    without fusion; every shallower ABF fuses its stage with the fused map of the deeper one.
    The outputs are returned shallow -> deep, aligned with the teacher's list.

    Channels and spatial sizes can be given here or left ``None``: ``ReviewKDDistill`` then infers
    them with a dry forward at build time and calls :meth:`build_chain`. Values given here win
    over the inferred ones (a disagreement with the real features is reported at build time).

    Args:
        in_channels (Sequence[int], optional): Student channels per level, shallow -> deep.
        out_channels (Sequence[int], optional): Teacher channels per level, shallow -> deep.
        mid_channels (int, optional): Channels of the fused maps. Defaults to
            ``min(max_mid_channels, in_channels[-1])`` (official CIFAR rule).
        max_mid_channels (int): Cap of the default mid-channel rule. Defaults to 512.
        teacher_sizes (Sequence, optional): Teacher (H, W) per level, shallow -> deep (None for
            a level = keep the student's size); the fused map is resized (nearest) to it. Fixed
            sizes given here win. By default the sizes are taken from the teacher's features of
            every batch (:meth:`set_teacher_sizes`, called by the distillation algorithm), so
            any input size works; used standalone, the connector resizes only where the
            shapes it was built from differ.
        split_attention (bool): Let every ABF compute its attention without the concatenation
            (same result up to float rounding, faster). ``False`` runs the official concat
            formulation. Defaults to True.
        fused_ops (bool): Let every ABF fold ``conv1``'s BatchNorm in training and fuse the
            attention products (same result up to float rounding, fewer memory passes; see
            :mod:`.abf_ops`). ``False`` runs the official modules. Defaults to True.
        compute_dtype (str): The arithmetic of the review path: ``'float32'`` (official: the
            features' own dtype); ``'bfloat16'``: the student's features are cast to bfloat16
            and the ABF chain runs under bfloat16 autocast (the BatchNorm statistics of the
            folded ``conv1`` and the running statistics stay float32; the fused maps come out
            in bfloat16; HCL's fused levels compute in float32, its fallback pools in the maps'
            dtype before a float32 MSE); ``'auto'``: ``'bfloat16'`` for float32 features on a
            CPU with bfloat16 arithmetic in hardware (AMX-BF16 or AVX512-BF16,
            :func:`~mmreviewkd.utils.cpu_has_native_bf16`), the features' own dtype everywhere
            else (GPUs: use ``--amp``). Student, teacher and the other losses keep their own
            precision. ``'auto'`` and ``'float32'`` leave an enclosing autocast (``--amp``)
            as it is; ``'bfloat16'`` runs the review path in bfloat16 even inside an fp16
            autocast (``--amp`` on a GPU). What it resolves to is logged once. Defaults to
            ``'float32'``; the classification configs set ``'auto'`` (step time, gradient
            deviation and accuracy in docs/benchmarks.md, "The review path in bfloat16").
        init_cfg (dict, optional): MMEngine init config. Defaults to None (the ABFs keep the
            official kaiming-uniform initialisation).
    """

    def __init__(self,
                 in_channels: Optional[Sequence[int]] = None,
                 out_channels: Optional[Sequence[int]] = None,
                 mid_channels: Optional[int] = None,
                 max_mid_channels: int = 512,
                 teacher_sizes: Optional[Sequence[Sequence[int]]] = None,
                 split_attention: bool = True,
                 fused_ops: bool = True,
                 compute_dtype: str = 'float32',
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(init_cfg=init_cfg)
        if compute_dtype not in COMPUTE_DTYPES:
            raise ValueError(
                f'ReviewKDConnector: `compute_dtype` must be one of {list(COMPUTE_DTYPES)}, got '
                f'{compute_dtype!r}. Set it in the connector config '
                '(`model.distiller.connectors.<name>.compute_dtype`).')
        self.compute_dtype = compute_dtype
        # read once here: cpu_has_native_bf16 is cached, which torch.compile warns about
        self._native_bf16 = compute_dtype == 'auto' and cpu_has_native_bf16()
        self._logged_dtype: Optional[str] = None  # what the log said the review path runs in
        self.cfg_in_channels = list(in_channels) if in_channels is not None else None
        self.cfg_out_channels = list(out_channels) if out_channels is not None else None
        self.cfg_mid_channels = mid_channels
        self.max_mid_channels = max_mid_channels
        self.split_attention = split_attention
        self.fused_ops = fused_ops
        self.teacher_sizes: Optional[List[Optional[Tuple[int, int]]]] = (
            [tuple(s) if s is not None else None for s in teacher_sizes]
            if teacher_sizes is not None else None)
        self.fixed_teacher_sizes = teacher_sizes is not None
        self._batch_teacher_sizes: Optional[List[Tuple[int, int]]] = None
        # Stored shallow -> deep, like the feature lists.
        self.abfs = nn.ModuleList()
        if self.cfg_in_channels is not None and self.cfg_out_channels is not None:
            self._make_abfs(self.cfg_in_channels, self.cfg_out_channels)

    @property
    def is_built(self) -> bool:
        """Whether the ABF chain exists (channels known)."""
        return len(self.abfs) > 0

    def _make_abfs(self, in_channels: Sequence[int], out_channels: Sequence[int]) -> None:
        if len(in_channels) != len(out_channels):
            raise ValueError(
                f'ReviewKDConnector: student has {len(in_channels)} feature levels '
                f'(in_channels={list(in_channels)}) but the teacher has {len(out_channels)} '
                f'(out_channels={list(out_channels)}). Make the recorders return the same number '
                'of levels, e.g. set the same number of `out_indices` in the student and teacher '
                'backbones.')
        if len(in_channels) == 0:
            raise ValueError('ReviewKDConnector: empty feature list')
        mid = self.cfg_mid_channels or review_mid_channels(in_channels, self.max_mid_channels)
        self.mid_channels = mid
        n = len(in_channels)
        self.abfs = nn.ModuleList(
            ABF(cin, mid, cout, fuse=i < n - 1, split_attention=self.split_attention,
                fused_ops=self.fused_ops)
            for i, (cin, cout) in enumerate(zip(in_channels, out_channels)))

    def build_chain(self, student_shapes: Sequence[Shape], teacher_shapes: Sequence[Shape],
                    key: str = 'connectors') -> None:
        """Build (or check) the chain from inferred feature shapes.

        Args:
            student_shapes (Sequence[tuple]): (C, H, W) of each student level, shallow -> deep.
            teacher_shapes (Sequence[tuple]): (C, H, W) of each teacher level, shallow -> deep.
            key (str): The config key of this connector, used in error messages.

        Raises:
            ValueError: on a level-count mismatch, channels disagreeing with explicit config
                values, or a resize the review path cannot do.
        """
        s_ch = [s[0] for s in student_shapes]
        t_ch = [t[0] for t in teacher_shapes]
        if len(s_ch) != len(t_ch):
            raise ValueError(
                f'{key}: the student records {len(s_ch)} feature levels {list(student_shapes)} '
                f'but the teacher records {len(t_ch)} {list(teacher_shapes)}. Student and '
                'teacher must expose the same number of stages: set matching `out_indices` in '
                '`architecture.backbone` and `teacher.backbone` (or matching recorder sources).')
        for name, given, real in (('in_channels', self.cfg_in_channels, s_ch),
                                  ('out_channels', self.cfg_out_channels, t_ch)):
            if given is not None and list(given) != list(real):
                raise ValueError(
                    f'{key}.{name}={list(given)} disagrees with the recorded features, whose '
                    f'channels are {real}. Remove `{name}` from the config to infer it, or fix it.')
        for i, (s, t) in enumerate(zip(student_shapes, teacher_shapes)):
            if (s[1] * s[2] == 1) != (t[1] * t[2] == 1):
                raise ValueError(
                    f'{key}: level {i} is a pooled 1x1 map on one side only '
                    f'(student {tuple(s)}, teacher {tuple(t)}). Record the pooled feature on '
                    'both (`pooled_source`) or on neither.')
        if not self.is_built:
            self._make_abfs(s_ch, t_ch)
        if self.teacher_sizes is None:
            # Resize only where the architectures' sizes differ; where they agree the fused map
            # keeps the runtime size (detection inputs vary in size from batch to batch).
            self.teacher_sizes = [
                None if (int(s[1]), int(s[2])) == (int(t[1]), int(t[2])) else
                (int(t[1]), int(t[2])) for s, t in zip(student_shapes, teacher_shapes)]

    def set_teacher_sizes(self, sizes: Sequence[Tuple[int, int]]) -> None:
        """The teacher's (H, W) per level for the current batch, shallow -> deep (ignored when
        the config fixes ``teacher_sizes``)."""
        if not self.fixed_teacher_sizes:
            self._batch_teacher_sizes = [tuple(int(d) for d in s) for s in sizes]

    def autocast_dtype(self, device: torch.device,
                       dtype: torch.dtype = torch.float32) -> Optional[torch.dtype]:
        """The lower precision ``compute_dtype`` selects for features on ``device``.

        Args:
            device (torch.device): Where the student's features are.
            dtype (torch.dtype): Their dtype (``'auto'`` lowers only float32).

        Returns:
            torch.dtype | None: ``torch.bfloat16``, or None to run in the features' dtype.
        """
        if self.compute_dtype == 'bfloat16' or (
                self._native_bf16 and device.type == 'cpu' and dtype == torch.float32):
            return torch.bfloat16
        return None

    def forward_train(self, feature: Sequence[Tensor]) -> List[Tensor]:
        """Review the student's features.

        Args:
            feature (Sequence[Tensor]): Student features shallow -> deep, level ``i`` of shape
                (N, in_channels[i], H_i, W_i).

        Returns:
            list[Tensor]: Fused features shallow -> deep, level ``i`` of shape
            (N, out_channels[i], Ht_i, Wt_i); in bfloat16 when ``compute_dtype`` selects it.
        """
        if not self.is_built:
            raise RuntimeError(
                'ReviewKDConnector is not built: give `in_channels`/`out_channels` in the '
                'config or use it inside `ReviewKDDistill`, which infers them.')
        if len(feature) != len(self.abfs):
            raise ValueError(f'ReviewKDConnector expects {len(self.abfs)} feature levels, '
                             f'got {len(feature)}')
        sizes = self._batch_teacher_sizes or self.teacher_sizes or [None] * len(feature)
        if len(sizes) != len(feature):
            raise ValueError(f'ReviewKDConnector: {len(sizes)} teacher sizes for '
                             f'{len(feature)} feature levels')
        dtype = self.autocast_dtype(feature[0].device, feature[0].dtype)
        self._log_dtype(dtype, feature[0])
        if dtype is None:
            return self._review(feature, sizes)
        with torch.autocast(device_type=feature[0].device.type, dtype=dtype):
            return self._review([x.to(dtype) for x in feature], sizes)

    @torch.compiler.disable  # not traced: a compiled connector logs without recompiling
    def _log_dtype(self, dtype: Optional[torch.dtype], x: Tensor) -> None:
        """Say once (and again if it changes) what the review path runs in: 'auto' depends on
        the machine, and the dumped config does not show what it chose."""
        if dtype is None and torch.is_autocast_enabled(x.device.type):
            dtype = torch.get_autocast_dtype(x.device.type)  # an enclosing --amp
        running = str(dtype or x.dtype).replace('torch.', '')
        if running != self._logged_dtype:
            self._logged_dtype = running
            print_log(f'ReviewKDConnector: the review path runs in {running} '
                      f'(compute_dtype={self.compute_dtype!r}, features on {x.device.type})',
                      logger='current')

    def _review(self, feature: Sequence[Tensor],
                sizes: Sequence[Optional[Tuple[int, int]]]) -> List[Tensor]:
        """The ABF chain, deepest first; the outputs shallow -> deep."""
        results: List[Tensor] = []
        residual: Optional[Tensor] = None
        for x, abf, size in zip(reversed(feature), reversed(self.abfs), reversed(sizes)):
            out, residual = abf(x, residual, size)
            results.append(out)
        return results[::-1]
