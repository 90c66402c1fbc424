"""Errors of the recipe runner that the CLI reports without a traceback."""

from keras_vision.config import ConfigError


class TrainingDivergedError(FloatingPointError):
    """The training loss became NaN or infinite; carries the step and the last good checkpoint."""

    def __init__(self, message, step, last_checkpoint_step=None):
        super().__init__(message)
        self.step, self.last_checkpoint_step = step, last_checkpoint_step


class WorkdirConfigError(ConfigError):
    """The workdir holds a run with a different config."""
