# The ReviewKD distiller between two classifiers (Chen et al., CVPR 2021), as `reviewkd_distiller`:
# the backbone stage outputs (out_indices) + the GAP neck's output as a 1x1 map of the student,
# reviewed by the ABF chain (channels and sizes inferred), matched to the teacher's by HCL.
# The CIFAR configs record the teacher's stages before their final ReLU (`preact=True`, the
# official CIFAR code) and set the pair's HCL weight. `compute_dtype='auto'`: the review path in
# bfloat16 on a CPU with AMX-BF16 / AVX512-BF16, float32 elsewhere (docs/benchmarks.md: step
# time, gradient deviation, accuracy); 'float32' is the official arithmetic everywhere.
reviewkd_distiller = dict(
    type='ConfigurableDistiller',
    student_recorders=dict(feats=dict(type='StageFeatures')),
    teacher_recorders=dict(feats=dict(type='StageFeatures')),
    connectors=dict(review=dict(type='ReviewKDConnector', compute_dtype='auto')),
    distill_losses=dict(loss_hcl=dict(type='HCLLoss', loss_weight=1.0)),
    loss_forward_mappings=dict(
        loss_hcl=dict(
            s_feats=dict(from_student=True, recorder='feats', connector='review'),
            t_feats=dict(from_student=False, recorder='feats'))))
