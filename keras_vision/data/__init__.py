"""keras_vision.data: tf.data input pipelines with big_vision's pp ops, for every backend.

- `get_preprocess_fn(pp)`: a big_vision pp string -> a function of one example dict.
- `registry.register(name)`: add your own pp op.
- `get_source(data_config)`: shapes, digits, imagefolder, image_text_csv/jsonl, tfrecord,
  or a prepared TFDS dataset.
- `make_pipeline(data_config, pp, batch_size, train=..., seed=...)`: the full pipeline.
- `mixup`: big_vision's batch mixup; `train_sentencepiece`: a vocabulary for `tokenize`;
  `SentencePieceTextTokenizer`: big_vision's `tokenize` as a `tf.Module` (training and serving).

Example:
>>> from keras_vision import data
>>> ds = data.make_pipeline(dict(name="shapes", split="train"),
...                         "decode|value_range(-1, 1)|onehot(10)|keep('image', 'labels')",
...                         batch_size=32, train=True, seed=0)
"""

from keras_vision.data import digits
from keras_vision.data import image_check
from keras_vision.data import mixup
from keras_vision.data import ops_general  # registers the general pp ops
from keras_vision.data import ops_image  # registers the image pp ops
from keras_vision.data import ops_paligemma  # registers the PaliGemma pp ops (tok, masked_concat, ...)
from keras_vision.data import ops_text  # registers the text pp ops
from keras_vision.data import randaug  # registers randaug / autoaugment
from keras_vision.data import registry
from keras_vision.data import shapes
from keras_vision.data.builder import get_preprocess_fn
from keras_vision.data.pipeline import DecodeErrorCounter
from keras_vision.data.pipeline import make_pipeline
from keras_vision.data.registry import PP_OPS
from keras_vision.data.sentencepiece_tokenizer import SentencePieceTextTokenizer
from keras_vision.data.sentencepiece_trainer import train_sentencepiece
from keras_vision.data.sources import SOURCES
from keras_vision.data.sources import Source
from keras_vision.data.sources import get_source
from keras_vision.data.sources import register_source
from keras_vision.data.sources.split import parse_split
