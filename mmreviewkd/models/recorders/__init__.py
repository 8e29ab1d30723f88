from .stage_features_recorder import StageFeaturesRecorder

__all__ = ['StageFeaturesRecorder']
