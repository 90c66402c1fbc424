"""Random-access source over an in-memory table of image files (+ labels, texts)."""

import numpy as np
import tensorflow as tf

from keras_vision.data.image_check import PATH_KEY
from keras_vision.data.sources.source import Source


class TableSource(Source):
    """Examples {"image": file bytes, "image/path", ["label"], ["texts"], extra columns}.

    Args:
        name, split: for messages.
        paths: image file paths, one per example.
        labels: optional int labels, one per example.
        texts: optional list of lists of strings (any number per example), giving
            "texts" as a 1-D tf.string tensor.
        columns: optional {key: list} of extra scalar columns (strings or numbers).
    """

    random_access = True

    def __init__(self, name, split, paths, labels=None, texts=None, columns=None):
        super().__init__(name, split, num_examples=len(paths))
        self.paths = list(paths)
        self.labels = None if labels is None else np.asarray(labels, np.int32)
        self.texts = None if texts is None else [list(t) for t in texts]
        self.columns = dict(columns or {})
        self._tables = None

    def _build_tables(self):
        if self._tables is None:
            with tf.init_scope():  # eager constants, shared by every traced map function
                self._tables = self._make_tables()
        return self._tables

    def _make_tables(self):
        t = {"paths": tf.constant(self.paths or [""], tf.string)}
        if self.labels is not None:
            t["labels"] = tf.constant(self.labels if len(self.labels) else [0], tf.int32)
        if self.texts is not None:
            flat = [s for row in self.texts for s in row]
            t["text_values"] = tf.constant(flat or [""], tf.string)
            t["text_splits"] = tf.constant(np.cumsum([0] + [len(r) for r in self.texts]), tf.int64)
        for k, v in self.columns.items():
            t["col/" + k] = tf.constant(v)
        return t

    def load(self, index):
        t = self._build_tables()
        path = t["paths"][index]
        ex = {"image": tf.io.read_file(path), PATH_KEY: path}
        if "labels" in t:
            ex["label"] = t["labels"][index]
        if "text_values" in t:
            ex["texts"] = t["text_values"][t["text_splits"][index] : t["text_splits"][index + 1]]
        for k in self.columns:
            ex[k] = t["col/" + k][index]
        return ex

    def select(self, indices):
        """Keeps only the rows `indices` (in that order)."""
        indices = list(indices)
        self.paths = [self.paths[i] for i in indices]
        if self.labels is not None:
            self.labels = self.labels[np.asarray(indices, np.int64)] if indices else self.labels[:0]
        if self.texts is not None:
            self.texts = [self.texts[i] for i in indices]
        self.columns = {k: [v[i] for i in indices] for k, v in self.columns.items()}
        self.num_examples = len(self.paths)
        self._tables = None
