"""The teacher's own input normalisation, when it differs from the student's."""
from typing import Optional, Sequence

import torch
from torch import Tensor, nn


class TeacherNormalization(nn.Module):
    """Turn the student's preprocessed batch into the teacher's.

    The student's normalisation is undone exactly, the teacher's applied (with a channel flip
    when the two disagree on BGR/RGB), and padded regions are reset to 0 as a data preprocessor
    pads them. E.g. a caffe-style BGR teacher with a pytorch-style RGB student (detection).

    Args:
        student_mean (Tensor): (C, 1, 1) mean of the student's data preprocessor.
        student_std (Tensor): (C, 1, 1) std of the student's data preprocessor.
        student_flips (bool): Whether the student's preprocessor flips BGR -> RGB.
        mean (Sequence[float]): The teacher's mean, relative to the images as loaded.
        std (Sequence[float]): The teacher's std.
        bgr_to_rgb (bool): Whether the teacher expects the channels flipped. Defaults to False.

    Raises:
        ValueError: when mean/std do not have one value per channel.
    """

    def __init__(self, student_mean: Tensor, student_std: Tensor, student_flips: bool,
                 mean: Sequence[float], std: Sequence[float], bgr_to_rgb: bool = False) -> None:
        super().__init__()
        c = student_mean.shape[0]
        t_mean = torch.tensor(mean, dtype=torch.float32).view(-1, 1, 1)
        t_std = torch.tensor(std, dtype=torch.float32).view(-1, 1, 1)
        if t_mean.shape[0] != c or t_std.shape[0] != c:
            raise ValueError(f'model.teacher_preprocess mean/std need {c} values')
        # non-persistent: nothing enters the algorithm's state dict
        self.register_buffer('student_mean', student_mean.detach().clone().view(-1, 1, 1),
                             persistent=False)
        self.register_buffer('student_std', student_std.detach().clone().view(-1, 1, 1),
                             persistent=False)
        self.register_buffer('mean', t_mean, persistent=False)
        self.register_buffer('std', t_std, persistent=False)
        self.flip = bool(student_flips) != bool(bgr_to_rgb)

    def forward(self, batch_inputs: Tensor, data_samples: Optional[list] = None) -> Tensor:
        """(N, C, H, W) student inputs -> (N, C, H, W) teacher inputs."""
        raw = batch_inputs * self.student_std + self.student_mean
        if self.flip:
            raw = raw.flip(1)
        x = (raw - self.mean) / self.std
        if data_samples is not None:
            pad = torch.ones_like(x[:, :1], dtype=torch.bool)
            for i, sample in enumerate(data_samples):
                shape = sample.metainfo.get('img_shape')
                if shape is None:
                    pad[i] = False
                    continue
                pad[i, :, :shape[0], :shape[1]] = False
            x = x.masked_fill(pad, 0.0)
        return x
