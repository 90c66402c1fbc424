"""Any other data name: a TFDS dataset already prepared on disk (never downloaded)."""

import os

from keras_vision import compat
from keras_vision.data.sources.source import Source


def _tfds():
    # why local: TFDS is heavy and only this source (a prepared TFDS dataset) needs it.
    import tensorflow_datasets as tfds
    from tensorflow_datasets.core.utils import gcs_utils

    compat.disable_tfds_gcs(gcs_utils)  # no network lookups of metadata: all from data_dir
    return tfds


class TFDSSource(Source):
    """A prepared TFDS dataset: `tfds.builder(name, data_dir=data_dir)`, read-only.

    Data config keys:
        name: TFDS name, optionally "name/config:version" ("imagenet2012", "cifar10").
        split: any TFDS split string ("train[:99%]", "validation", "train+test").
        data_dir: where it was prepared (default $TFDS_DATA_DIR or
            ~/tensorflow_datasets).
        skip_decode: features given to the pp as encoded bytes (default ("image",),
            like big_vision, so "decode" / "decode_jpeg_and_inception_crop" work).

    File order is shuffled (seeded, the same every epoch) when the pipeline shuffles; the
    pipeline adds a per-epoch shuffle buffer.
    """

    def __init__(self, name, split="train", data_dir=None, skip_decode=("image",)):
        tfds = _tfds()
        data_dir = os.path.expanduser(data_dir or os.environ.get("TFDS_DATA_DIR", "~/tensorflow_datasets"))
        hint = (
            "keras_vision never downloads: prepare it first (e.g. tfds.builder(name, data_dir=...)"
            ".download_and_prepare() on a machine with the data) or fix data_dir."
        )
        if not os.path.isdir(data_dir):
            raise FileNotFoundError(f"Data {name!r}: data_dir {data_dir!r} does not exist. {hint}")
        try:
            builder = tfds.builder(name, data_dir=data_dir)
        except Exception as e:  # DatasetNotFoundError and friends: keep the message short.
            raise ValueError(
                f"Unknown data name {name!r}: not one of keras_vision's sources (shapes, digits, "
                f"imagefolder, image_text_csv, image_text_jsonl, tfrecord) and not a TFDS dataset "
                f"prepared under {data_dir!r} ({type(e).__name__}). {hint}"
            ) from None
        if not builder.is_prepared():
            raise FileNotFoundError(
                f"TFDS dataset {name!r} is not prepared under {data_dir!r} (looked in {builder.data_dir}). {hint}"
            )
        try:
            num_examples = builder.info.splits[split].num_examples
        except (KeyError, ValueError) as e:
            raise ValueError(
                f"TFDS dataset {name!r} has no split {split!r} (it has {sorted(builder.info.splits)}): {e}"
            ) from None
        super().__init__(name, split, num_examples=num_examples)
        self.builder = builder
        self.data_dir = data_dir
        self.skip_decode = tuple(skip_decode or ())

    def as_dataset(self, shuffle=False, seed=0):
        tfds = _tfds()
        features = self.builder.info.features
        decoders = {k: tfds.decode.SkipDecoding() for k in self.skip_decode if k in features}
        read_config = tfds.ReadConfig(shuffle_seed=int(seed), shuffle_reshuffle_each_iteration=False)
        return self.builder.as_dataset(
            split=self.split, shuffle_files=shuffle, decoders=decoders or None, read_config=read_config
        )
