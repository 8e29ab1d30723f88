# Classic KD (Hinton et al. 2015) on the logits with MMRazor's KLDivergence, as `kd_distiller`:
# tau = 4, weight 0.9 (with the student's CE at 0.1: the RepDistiller KD recipe). Used alone by
# the KD configs and merged into the ReviewKD distiller by the ReviewKD + KD configs.
kd_distiller = dict(
    type='ConfigurableDistiller',
    student_recorders=dict(fc=dict(type='ModuleOutputs', source='head.fc')),
    teacher_recorders=dict(fc=dict(type='ModuleOutputs', source='head.fc')),
    distill_losses=dict(loss_kl=dict(type='KLDivergence', tau=4, loss_weight=0.9)),
    loss_forward_mappings=dict(
        loss_kl=dict(
            preds_S=dict(from_student=True, recorder='fc'),
            preds_T=dict(from_student=False, recorder='fc'))))
