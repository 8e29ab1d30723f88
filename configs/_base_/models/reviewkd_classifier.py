# ReviewKD between two MMPretrain classifiers (Chen et al., CVPR 2021) with the distiller of
# ../distillers/reviewkd.py (one ABF pass per step; channels and sizes inferred from a dry
# forward at `input_shape`). Configs set `architecture`, `teacher`, `teacher_ckpt`,
# `input_shape` and the HCL weight.
_base_ = ['../distillers/reviewkd.py']
model = dict(
    _scope_='mmreviewkd',
    type='ReviewKDDistill',
    data_preprocessor=None,  # the student's
    distiller=_base_.reviewkd_distiller,
)
