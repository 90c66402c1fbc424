"""Losses with big_vision's names: plain `keras.ops` functions plus a Keras wrapper.

`keras_vision.losses.get(name)` looks a loss up by name in the registry every
loss module registers into (`register_loss`): classification (`softmax_xent`,
`sigmoid_xent`, `weighted_softmax_xent`), distillation (`dist`) and the
image-text contrastive losses.
"""

from keras_vision.losses import contrastive
from keras_vision.losses.big_vision_loss import BigVisionLoss
from keras_vision.losses.classification import sigmoid_xent
from keras_vision.losses.classification import softmax_xent
from keras_vision.losses.classification import weighted_softmax_xent
from keras_vision.losses.contrastive import bidirectional_contrastive_loss
from keras_vision.losses.contrastive import contrastive_logit_stats
from keras_vision.losses.contrastive import sigmoid_loss
from keras_vision.losses.contrastive import sigmoid_loss_block
from keras_vision.losses.contrastive import sigmoid_loss_chunked
from keras_vision.losses.contrastive import softmax_contrastive_loss
from keras_vision.losses.distillation import DISTANCE_KINDS
from keras_vision.losses.distillation import dist
from keras_vision.losses.registry import LOSSES
from keras_vision.losses.registry import get
from keras_vision.losses.registry import register_loss
from keras_vision.losses.registry import registered_losses

# The contrastive losses are looked up by name too (contrastive.py keeps the table).
for _name, _fn in contrastive.CONTRASTIVE_LOSSES.items():
    register_loss(_name)(_fn)
