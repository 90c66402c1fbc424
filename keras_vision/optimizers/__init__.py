"""big_vision optimizer semantics on Keras optimizers, and big_vision's LR schedules.

`make_optimizer(config, total_steps)` turns big_vision recipe keys into a Keras
optimizer; the classes can also be used directly in `model.compile`.
"""

from keras_vision.optimizers.big_vision_adafactor import BigVisionAdafactor
from keras_vision.optimizers.big_vision_adam import BigVisionAdam
from keras_vision.optimizers.big_vision_momentum import BigVisionMomentum
from keras_vision.optimizers.big_vision_optimizer import BigVisionOptimizer
from keras_vision.optimizers.big_vision_schedule import DECAY_TYPES
from keras_vision.optimizers.big_vision_schedule import BigVisionSchedule
from keras_vision.optimizers.big_vision_schedule import create_learning_rate_schedule
from keras_vision.optimizers.big_vision_schedule import duration_to_steps
from keras_vision.optimizers.make_optimizer import OPTAX_NAMES
from keras_vision.optimizers.make_optimizer import make_optimizer
