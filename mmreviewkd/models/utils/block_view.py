"""Views of a feature map as blocks, for nearest upsampling and pooling by integer factors."""
from torch import Tensor


def block_view(t: Tensor, bh: int, bw: int) -> Tensor:
    """(N, C, h * bh, w * bw) -> (N, C, h, bh, w, bw), a view whatever the strides (any memory
    format): element ``[n, c, i, a, j, b]`` is pixel ``(i * bh + a, j * bw + b)``."""
    return t.unflatten(3, (t.shape[3] // bw, bw)).unflatten(2, (t.shape[2] // bh, bh))
