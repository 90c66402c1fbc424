"""Tiny stand-in models, a SentencePiece model and sample images for the export tests."""

import io

import keras
import numpy as np
from keras import layers
from keras import ops

IMAGE_PP = "decode|resize(32)|value_range(-1, 1)"
PP = IMAGE_PP + "|onehot(4)|keep('image', 'labels')"  # a recipe's eval pp, label ops included
CLASS_NAMES = ["circle", "square", "triangle", "star"]
MAX_LEN = 8
CORPUS = [
    "a red circle", "a blue square", "a green triangle on a white background", "a small yellow star",
    "a photo of a big circle", "two shapes", "the picture shows a square and a star",
] * 30


def classifier(num_classes=4, seed=0):
    """(B, 32, 32, 3) in [-1, 1] -> logits: patchify conv (width 32) + 1 MLP block + GAP + head."""
    keras.utils.set_random_seed(seed)
    inputs = keras.Input((32, 32, 3), name="images")
    x = layers.Conv2D(32, 8, strides=8, name="patch")(inputs)
    x = layers.Reshape((16, 32))(x)
    x = x + layers.Dense(32, activation="gelu", name="mlp")(layers.LayerNormalization(epsilon=1e-6)(x))
    x = layers.GlobalAveragePooling1D()(x)
    return keras.Model(inputs, layers.Dense(num_classes, name="head")(x), name="tiny_classifier")


def _normalize(z):
    return z / (ops.sqrt(ops.sum(ops.square(z), axis=-1, keepdims=True)) + 1e-8)


class TinyTwoTower(keras.Model):
    """Stand-in with the two-tower interface: encode_image, encode_text, t, b (width 32)."""

    def __init__(self, vocab_size=64, max_len=MAX_LEN, dim=32, **kwargs):
        super().__init__(**kwargs)
        i = keras.Input((32, 32, 3))
        x = layers.Conv2D(dim, 8, strides=8)(i)
        x = layers.GlobalAveragePooling2D()(x)
        self.image_encoder = keras.Model(i, layers.Dense(dim)(x), name="img")
        t = keras.Input((max_len,), dtype="int32")
        y = layers.Embedding(vocab_size, dim)(t)
        y = layers.Dense(dim, activation="gelu")(y)
        y = layers.GlobalAveragePooling1D()(y)
        self.text_encoder = keras.Model(t, layers.Dense(dim)(y), name="txt")
        self.text_encoder.vocabulary_size = vocab_size
        self.t = self.add_weight(shape=(1,), initializer=keras.initializers.Constant(np.log(10.0)), name="t")
        self.b = self.add_weight(shape=(1,), initializer=keras.initializers.Constant(-2.0), name="b")

    def encode_image(self, images, training=False):
        return _normalize(self.image_encoder(images, training=training))

    def encode_text(self, token_ids, training=False):
        return _normalize(self.text_encoder(token_ids, training=training))

    def call(self, inputs, training=False):
        return {"zimg": self.encode_image(inputs["image"]), "ztxt": self.encode_text(inputs["labels"])}


def two_tower(seed=0):
    keras.utils.set_random_seed(seed)
    model = TinyTwoTower()
    model({"image": np.zeros((1, 32, 32, 3), "float32"), "labels": np.zeros((1, MAX_LEN), "int32")})
    return model


def sentencepiece_model(vocab_size=48):
    """Bytes of a small unigram SentencePiece model (pad 0, unk 1, bos 2, eos 3)."""
    import sentencepiece as spm

    buf = io.BytesIO()
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(CORPUS), model_writer=buf, vocab_size=vocab_size, model_type="unigram",
        pad_id=0, unk_id=1, bos_id=2, eos_id=3, hard_vocab_limit=False, minloglevel=2,
        num_threads=1, seed_sentencepiece_size=1000,
    )
    return buf.getvalue()


def images(seed=0, sizes=((41, 57), (32, 32), (20, 75))):
    rng = np.random.default_rng(seed)
    out = []
    for h, w in sizes:
        yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
        c = rng.uniform(1, 4, size=(3,))
        img = np.stack([128 + 110 * np.sin(c[k] * (yy / h + xx / w) * 3 + k) for k in range(3)], -1)
        img[h // 4: h // 2, w // 4: w // 2] = rng.integers(0, 255, size=3)
        out.append(np.clip(img, 0, 255).astype(np.uint8))
    return out


def encode(image, fmt):
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(image).save(buf, format=fmt, **({"quality": 92} if fmt == "JPEG" else {}))
    return buf.getvalue()


def keras_reference_logits(model, encoded, pp=IMAGE_PP):
    """Logits the way evaluation sees them: the training pipeline's pp on each image, then the model."""
    import tensorflow as tf

    from keras_vision.data import get_preprocess_fn

    fn = get_preprocess_fn(pp)
    batch = np.stack([fn({"image": tf.constant(b)})["image"].numpy() for b in encoded])
    return keras.ops.convert_to_numpy(model(batch, training=False))
