"""FlexiViT training: one set of weights, a random patch size per step."""

import time

import keras
import numpy as np
import tensorflow as tf
from keras import ops

from keras_vision.api_export import keras_vision_export
from keras_vision.trainers.distill_builder import big_vision_teacher_specs
from keras_vision.trainers.distill_builder import load_teacher
from keras_vision.trainers.distiller import check_distance
from keras_vision.trainers.distiller import distillation_loss
from keras_vision.trainers.distiller import fit_wrapper
from keras_vision.trainers.distiller import teacher_view

# tf.data's `range` end for "the steps of this fit call" (never reached).
_MAX_STEPS = 2**62


def _as_pair(p):
    if isinstance(p, (int, np.integer)):
        return (int(p), int(p))
    p = tuple(int(v) for v in p)
    if len(p) != 2:
        raise ValueError(f"A patch size is an int or a (height, width) pair, got {p}.")
    return p


def _key(p):
    """Dict key of a patch size: an int for square patches, else the pair."""
    h, w = _as_pair(p)
    return h if h == w else (h, w)


def _to_numpy(tree):
    return keras.tree.map_structure(lambda x: x.numpy() if hasattr(x, "numpy") else x, tree)


def split_batch(batch, label_key="labels", image_only=True):
    """(x, y) of a batch: (x, y[, w]) tuples pass through; a dict gives y = batch[label_key].

    x is the "image" entry, or with `image_only=False` and other inputs present (e.g. a
    teacher's "prof" image) a dict of all non-label keys ("_mask" dropped). Works on
    numpy batches and inside `tf.data.Dataset.map`.
    """
    if isinstance(batch, dict):
        batch = {k: v for k, v in batch.items() if k != "_mask"}
        y = batch.pop(label_key, None)
        x = batch
    elif isinstance(batch, (tuple, list)):
        x, y = batch[0], (batch[1] if len(batch) > 1 else None)
    else:
        x, y = batch, None
    if isinstance(x, dict):
        if "image" not in x:
            raise KeyError(f"Batch has no 'image' key; keys are {sorted(x)}.")
        if image_only or set(x) == {"image"}:
            x = x["image"]
    return x, y


@keras_vision_export("keras_vision.trainers.patch_sizes_from_seqhw")
def patch_sizes_from_seqhw(image_size, seqhw):
    """big_vision's `flexi.seqhw` (tokens per side) -> patch sizes at `image_size` px.

    Example: `patch_sizes_from_seqhw(240, (5, 8, 15, 30))` -> `[48, 30, 16, 8]`.
    """
    return [int(image_size) // int(s) for s in seqhw]


def _choice(step, n, weights=None, seed=0):
    rng = np.random.default_rng((max(int(seed), 0), max(int(step), 0)))
    p = None if weights is None else np.asarray(weights, np.float64) / np.sum(weights)
    return int(rng.choice(n, p=p))


@keras_vision_export("keras_vision.trainers.patch_size_for_step")
def patch_size_for_step(step, patch_sizes, weights=None, seed=0):
    """The patch size of training step `step`: `numpy.random.default_rng((seed, step))`.

    As big_vision's `trainers/proj/flexi/common.py` (`mkrng` + `choice`): a fresh RNG
    keyed by the step, so the sequence does not depend on how a run was interrupted.

    Args:
        step: int >= 0 (negative counts as 0).
        patch_sizes: sequence to choose from.
        weights: optional relative probabilities (normalised here); default uniform.
        seed: int (negative counts as 0).
    """
    return patch_sizes[_choice(step, len(patch_sizes), weights, seed)]


class _LatestValue(keras.metrics.Metric):
    """The value of the latest `update_state` (e.g. this batch's patch size), not a mean."""

    def __init__(self, name, **kwargs):
        super().__init__(name=name, **kwargs)
        self.latest = self.add_variable(shape=(), initializer="zeros", name="latest")

    def update_state(self, value):
        self.latest.assign(ops.cast(value, self.dtype))

    def result(self):
        return ops.convert_to_tensor(self.latest)


@keras_vision_export("keras_vision.trainers.FlexiTrainer")
class FlexiTrainer(keras.Model):
    """Trains a FlexiViT with a patch size drawn per step from a fixed set.

    A `keras.Model` driven by Keras' own `fit`. It holds one model per patch size
    (`model.with_patch_size(p)`), all sharing the variables of `model`; its `call`
    picks the one of the step's patch size with `keras.ops.switch`, so one compiled
    train step holds every size and each step runs only its own branch (what a plain
    ViT step at that patch size costs). The patch size of step `s` is drawn on the host
    with `numpy.random.default_rng((seed, s))` (as big_vision's `trainers/proj/flexi`),
    where `s` counts optimizer updates: `fit` feeds each batch with the index of its
    step's patch size, starting at the optimizer's iteration count, so a run is
    deterministic and a resumed run continues the same sequence of sizes. The batch
    logs hold the batch's patch size (height) as the "patch_size" metric.

    This is a training-time wrapper: it never reaches a preset or a SavedModel; the
    trained weights live in `trainer.model` (the model passed in, also `student`).

    Args:
        model: a model with `with_patch_size(p)` returning a weight-sharing copy
            (`FlexiViTImageClassifier`, `FlexiViTBackbone`).
        patch_sizes: list of ints or (h, w) pairs to sample from.
        weights: optional relative probabilities (big_vision's `flexi.seqhw.p`);
            default uniform.
        seed: int, keys the per-step patch-size RNG.
        teacher: optional frozen Keras model to distil from (big_vision
            `trainers/proj/flexi/distill.py`): the loss becomes the `Distiller` loss
            (`keras_vision.trainers.distiller.distillation_loss`) and any `loss=` given
            to `compile` is ignored; compiled metrics still compare the student's
            logits to the labels.
        distance: distance kind for the teacher ("kl", "euclidean", "hard", ...).
        distance_kw: extra `dist` arguments (e.g. `t` for "kl").
        teacher_input: batch key the teacher reads (default "prof"; "image" when absent).

    Example:
        >>> trainer = FlexiTrainer(model, patch_sizes=[8, 16, 32])
        >>> trainer.compile(optimizer=keras.optimizers.Adam(1e-3), loss="softmax_xent")
        >>> trainer.fit(train_ds, steps_per_epoch=1000)
        >>> trainer.evaluate(val_ds)   # {8: {...}, 16: {...}, 32: {...}}

    Paper: "FlexiViT: One Model for All Patch Sizes" (https://arxiv.org/abs/2212.08013).
    """

    def __init__(self, model, patch_sizes, weights=None, seed=0, teacher=None, distance="kl",
                 distance_kw=None, teacher_input="prof", **kwargs):
        if not hasattr(model, "with_patch_size"):
            raise TypeError(f"FlexiTrainer needs a model with `with_patch_size`, got {type(model).__name__}.")
        if not patch_sizes:
            raise ValueError("`patch_sizes` must name at least one patch size, got an empty list.")
        sizes = [_key(p) for p in patch_sizes]
        if len(set(sizes)) != len(sizes):
            raise ValueError(f"`patch_sizes` has duplicates: {list(patch_sizes)}.")
        if weights is not None:
            weights = np.asarray(weights, dtype=np.float64)
            if weights.shape != (len(sizes),) or np.any(weights < 0) or weights.sum() <= 0:
                raise ValueError(
                    f"`weights` must be {len(sizes)} non-negative numbers with a positive sum "
                    f"(one per patch size {sizes}), got {weights.tolist()}."
                )
            weights = weights / weights.sum()
        if teacher is not None:
            check_distance(distance)
        super().__init__(**kwargs)
        # The student first: the trainer's trainable variables are then the student's,
        # in its order, and an optimizer built on the student trains the trainer.
        self.student = model
        self.patch_sizes = sizes
        self.patch_size_weights = weights
        self.seed = int(seed)
        if teacher is not None:
            teacher.trainable = False
        self.teacher = teacher
        self.distance = distance
        self.distance_kw = dict(distance_kw or {})
        self.teacher_input = teacher_input
        own = _key(model.patch_size) if getattr(model, "patch_size", None) is not None else None
        # Branch i of the switch runs `models[branch_sizes[i]]`; the first
        # len(patch_sizes) branches are the training sizes (model_at/evaluate may add more).
        self.branch_sizes = list(sizes)
        self.models = {p: model if p == own else model.with_patch_size(_as_pair(p)) for p in sizes}
        self.patch_size_tracker = _LatestValue(name="patch_size")
        self._check_shared()
        if model.built and (teacher is None or teacher.built):
            self.built = True

    @property
    def model(self):
        """The model being trained (the one passed in)."""
        return self.student

    @property
    def teachers(self):
        """[teacher], or [] without one (as `Distiller.teachers`)."""
        return [] if self.teacher is None else [self.teacher]

    # --- construction ---------------------------------------------------------------
    @classmethod
    def from_config(cls, model, flexi_config, image_size=None, seed=0, **kwargs):
        """Builds from big_vision's `config.flexi` section (kwargs go to the constructor).

        `flexi_config` is `dict(seqhw=dict(v=(5, 8, ...), p=(1, 1, ...)))` (tokens per
        side, needs `image_size`) or `dict(patch_size=dict(v=(48, 30, ...), p=...))`.
        """
        if "patch_size" in flexi_config:
            section = flexi_config["patch_size"]
            sizes = list(section["v"])
        elif "seqhw" in flexi_config:
            if image_size is None:
                raise ValueError("`flexi.seqhw` needs `image_size` to turn token counts into patch sizes.")
            section = flexi_config["seqhw"]
            sizes = patch_sizes_from_seqhw(image_size, section["v"])
        else:
            raise ValueError(f"`flexi` config needs 'seqhw' or 'patch_size', got keys {sorted(flexi_config)}.")
        return cls(model, sizes, weights=section.get("p"), seed=seed, **kwargs)

    @classmethod
    def from_recipe(cls, model, config):
        """The trainer a recipe asks for with `config.trainer = "flexi"`.

        Reads `config.flexi` (see `from_config`; `seqhw` is turned into patch sizes at
        the model's image height), `config.seed`, and for distillation big_vision's
        `config.teachers = ["prof"]` with `config.prof_name`, `config.prof` (model
        kwargs), optional `config.prof_init` (any `keras_vision.loading.load_model`
        spec: big_vision .npz, .keras, workdir) and `config.distance` / `config.distance_kw`.
        """
        flexi = dict(config.get("flexi") or {})
        backbone = getattr(model, "backbone", model)
        image_size = int(backbone.image_shape[0])
        teacher, teacher_input = None, "prof"
        specs = big_vision_teacher_specs(config)
        if len(specs) > 1:
            raise ValueError(f"FlexiTrainer distils from one teacher, got config.teachers={list(specs)}.")
        if specs:
            (teacher_input, spec), = specs.items()
            teacher = load_teacher(spec)
        return cls.from_config(
            model, flexi, image_size=image_size, seed=config.get("seed", 0), teacher=teacher,
            distance=config.get("distance", "kl"), distance_kw=config.get("distance_kw"), teacher_input=teacher_input,
        )

    def get_config(self):
        """The sampling settings (the model is not part of a trainer's config)."""
        return {
            "patch_sizes": list(self.patch_sizes),
            "weights": None if self.patch_size_weights is None else self.patch_size_weights.tolist(),
            "seed": self.seed,
        }

    def _check_shared(self):
        ref = [id(v) for v in self.student.trainable_variables]
        ref_state = [id(v) for v in self.student.non_trainable_variables]
        if self.teacher is not None and {id(v) for v in self.teacher.weights} & set(ref):
            raise ValueError("The teacher shares variables with the student; pass a separate model.")
        if [id(v) for v in self.trainable_variables] != ref:
            raise ValueError("FlexiTrainer's trainable variables must be the model's, in the model's order.")
        for p, m in self.models.items():
            # The branches run `stateless_call` with the model's variables by position.
            if [id(v) for v in m.trainable_variables] != ref or [id(v) for v in m.non_trainable_variables] != ref_state:
                raise ValueError(
                    f"The patch-size-{p} model does not share the base model's variables in the same order; "
                    "`with_patch_size` must reuse the same layers."
                )

    # --- the patch size of a step -----------------------------------------------------
    def patch_size_at(self, step):
        """The patch size trained at `step` (deterministic in (seed, step))."""
        return patch_size_for_step(step, self.patch_sizes, self.patch_size_weights, self.seed)

    def _index_at(self, step):
        return np.int32(_choice(step, len(self.patch_sizes), self.patch_size_weights, self.seed))

    # --- compile ----------------------------------------------------------------------
    def compile(self, optimizer="adam", **kwargs):
        """`keras.Model.compile`; with a teacher, `loss` is ignored (the loss is the distance).

        Without a `loss`, the loss is the model's own `compute_loss` (e.g. a Task's).
        """
        if self.teacher is not None:
            kwargs.pop("loss", None)
        super().compile(optimizer=optimizer, **kwargs)

    def compile_like_model(self):
        """Compiles with the optimizer (the same object) and loss `model` was compiled with.

        For runners that compile the model themselves (the recipe runner): compile the
        model, build `FlexiTrainer(model, ...)`, then `fit` (which calls this if needed).
        """
        if not getattr(self.student, "compiled", False):
            raise RuntimeError("FlexiTrainer: compile the model (or call `FlexiTrainer.compile`) before training.")
        self.compile(optimizer=self.student.optimizer, loss=self.student.loss)

    # --- the model and its loss ---------------------------------------------------------
    def call(self, inputs, training=False):
        """`inputs` = (patch-size index per example, the model's inputs); the student's outputs."""
        index, x = inputs
        image = x["image"] if isinstance(x, dict) else x
        index = ops.cast(ops.reshape(index, (-1,))[0], "int32")
        state = self.student.non_trainable_variables
        tv = [v.value for v in self.student.trainable_variables]
        ntv = [v.value for v in state]

        def branch(model):
            # A stateless call returns the new state (e.g. dropout seeds) instead of
            # assigning it inside the branch, where the JAX trace may not write.
            return lambda tv, ntv, image: model.stateless_call(tv, ntv, image, training=training)

        branches = [branch(self.models[p]) for p in self.branch_sizes]
        if len(branches) == 1:
            y, new_state = branches[0](tv, ntv, image)
        else:
            y, new_state = ops.switch(index, branches, tv, ntv, image)
        for v, value in zip(state, new_state):
            v.assign(value)
        return y

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        if y_pred is None:
            y_pred = self(x, training=training)
        if self.teacher is not None:
            teacher_x = teacher_view(x[1], self.teacher_input)
            logits = ops.stop_gradient(self.teacher(teacher_x, training=False))
            return distillation_loss(y_pred, [logits], self.distance, self.distance_kw, sample_weight)
        if self.loss is None:
            return self.student.compute_loss(x=x[1], y=y, y_pred=y_pred, sample_weight=sample_weight,
                                             training=training)
        return super().compute_loss(x=x, y=y, y_pred=y_pred, sample_weight=sample_weight, training=training)

    def compute_metrics(self, x, y, y_pred, sample_weight=None):
        heights = ops.convert_to_tensor([_as_pair(p)[0] for p in self.branch_sizes], "float32")
        self.patch_size_tracker.update_state(ops.take(heights, ops.reshape(x[0], (-1,))[0]))
        return super().compute_metrics(x, y, y_pred, sample_weight)

    # --- data -------------------------------------------------------------------------
    def _batches(self, x, repeat):
        """`x` as a tf.data.Dataset of (x, y) / (x,) batches split for the student (and teacher)."""
        image_only = self.teacher is None

        def as_tuple(x_, y_):
            return (x_,) if y_ is None else (x_, y_)

        if isinstance(x, tf.data.Dataset):
            ds = x.map(lambda *e: as_tuple(*split_batch(e[0] if len(e) == 1 else e, image_only=image_only)))
            return ds.repeat() if repeat else ds
        iterator = iter(x)
        try:
            first = as_tuple(*split_batch(_to_numpy(next(iterator)), image_only=image_only))
        except StopIteration:
            raise ValueError("FlexiTrainer got an empty dataset.") from None

        def batches():
            yield first
            for b in iterator:
                yield as_tuple(*split_batch(_to_numpy(b), image_only=image_only))
            while repeat and iter(x) is not x:  # re-iterate a list; a one-shot iterator ends
                for b in x:
                    yield as_tuple(*split_batch(_to_numpy(b), image_only=image_only))

        spec = keras.tree.map_structure(
            lambda a: tf.TensorSpec((None,) + tuple(np.shape(a))[1:], tf.as_dtype(np.asarray(a).dtype)), first)
        return tf.data.Dataset.from_generator(batches, output_signature=spec)

    @staticmethod
    def _join(i, batch):
        """A batch with the patch-size index `i` (one per example) prepended to its x."""
        n = tf.shape(tf.nest.flatten(batch[0])[0])[0]
        return ((tf.fill([n], i), batch[0]),) + tuple(batch[1:])

    def training_dataset(self, x, start_step):
        """`x` for Keras' fit: each batch carries the patch-size index of its step (from `start_step`)."""
        steps = tf.data.Dataset.range(start_step, _MAX_STEPS)
        index = steps.map(lambda s: tf.ensure_shape(tf.numpy_function(self._index_at, [s], tf.int32), ()))
        return tf.data.Dataset.zip((index, self._batches(x, repeat=True))).map(self._join)

    # --- training and evaluation ------------------------------------------------------
    def fit(self, x, epochs=1, steps_per_epoch=None, callbacks=None, verbose=0, initial_epoch=0, **kwargs):
        """`keras.Model.fit` with a patch size per step.

        Step `s` trains at `patch_size_at(s)`, where `s` counts optimizer updates (so
        resuming from a checkpoint continues the same sequence). Callbacks see the
        trainer (`trainer.model` is the model being trained); a stop they request is
        passed on to `trainer.model.stop_training`. Batch logs hold "patch_size".

        Args:
            x: iterable of batches (`tf.data.Dataset`, generator, list): (x, y) tuples
                or dicts with "image" and "labels"; re-iterated when exhausted.
            epochs, initial_epoch, callbacks, verbose: as in `keras.Model.fit`.
            steps_per_epoch: required unless `x` has a length.
            **kwargs: other `keras.Model.fit` arguments (`validation_data` is not
                supported: use evaluators or `evaluate`).

        Returns:
            The `keras.callbacks.History`.
        """
        if kwargs.get("validation_data") is not None:
            raise ValueError("FlexiTrainer.fit has no validation_data; use evaluators or `evaluate`.")
        kwargs.pop("validation_data", None)
        kwargs.setdefault("shuffle", False)  # the batches come in order from `x`
        if not self.compiled:
            self.compile_like_model()
        if steps_per_epoch is None:
            try:
                steps_per_epoch = len(x)
            except TypeError:
                raise ValueError("FlexiTrainer.fit needs `steps_per_epoch` for an unsized dataset.") from None
        start = int(ops.convert_to_numpy(self.optimizer.iterations))
        data = self.training_dataset(x, start)
        return fit_wrapper(self, super().fit, data, epochs=epochs, steps_per_epoch=int(steps_per_epoch),
                           callbacks=callbacks, verbose=verbose, initial_epoch=initial_epoch, **kwargs)

    def _branch_index(self, p):
        p = _key(p)
        self.model_at(p)
        if p not in self.branch_sizes:
            self.branch_sizes.append(p)
            # One more branch: the compiled functions are traced again on next use.
            self.train_function = self.test_function = self.predict_function = None
        return self.branch_sizes.index(p)

    def evaluate(self, dataset, patch_sizes=None, steps=None):
        """Evaluates at each patch size (default: all trained sizes) -> {size: logs}.

        Keras' `evaluate` at each size: metrics over the whole dataset (weighted by
        batch size). `dataset` (a tf.data.Dataset or a list of (x, y) tuples or dicts)
        is read once per size.
        """
        if not self.compiled:
            self.compile_like_model()
        out = {}
        for p in patch_sizes or self.patch_sizes:
            index = self._branch_index(p)
            data = self._batches(dataset, repeat=False).map(lambda *b, i=index: self._join(np.int32(i), b))
            if steps is None and hasattr(dataset, "__len__"):
                steps = len(dataset)  # a generator-backed dataset has no known length
            logs = super().evaluate(data, steps=steps, verbose=0, return_dict=True)
            out[_key(p)] = {k: float(v) for k, v in logs.items() if k != "patch_size"}
        return out

    def model_at(self, p):
        """The model at patch size `p`: a weight-sharing `model.with_patch_size(p)` (created on first use)."""
        p = _key(p)
        if p not in self.models:
            self.models[p] = self.student.with_patch_size(_as_pair(p))
            self._check_shared()
        return self.models[p]

    def throughput(self, images, patch_sizes=None, repeats=3):
        """Images/second of inference (after one warm-up call) per patch size."""
        out = {}
        images = _to_numpy(images)
        for p in patch_sizes or self.patch_sizes:
            p = _key(p)
            m = self.model_at(p)
            m.predict_on_batch(images)
            t0 = time.perf_counter()
            for _ in range(repeats):
                ops.convert_to_numpy(m.predict_on_batch(images))
            out[p] = repeats * len(images) / (time.perf_counter() - t0)
        return out
