"""FlexiViT training: one set of weights, a random patch size per step."""

import time

import keras
import numpy as np

from keras_vision.api_export import keras_vision_export


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
    def convert(x):
        if hasattr(x, "numpy"):
            return x.numpy()
        return x

    return keras.tree.map_structure(convert, tree)


def _build_teacher(config, name):
    """The frozen teacher `name` of a recipe: `config[name + "_name"]`, `config[name]`, `config[name + "_init"]`."""
    import keras_vision.models as models

    model_name = config.get(f"{name}_name")
    if not model_name:
        raise ValueError(f"config.teachers names {name!r} but config.{name}_name (its model name) is not set.")
    kwargs = dict(config.get(name) or {})
    init = config.get(f"{name}_init")
    if init and str(init).endswith(".keras"):
        teacher = keras.saving.load_model(init, compile=False)
    elif init:
        from keras_vision.convert import load_big_vision

        teacher = load_big_vision(init, model=model_name, config=kwargs)
    else:
        teacher = models.build_model(model_name, **kwargs)
    teacher.trainable = False
    return teacher


def split_batch(batch, label_key="labels", image_only=True):
    """(x, y) of a batch: (x, y[, w]) tuples pass through; a dict gives y = batch[label_key].

    x is the "image" entry, or with `image_only=False` and other inputs present (e.g. a
    teacher's "prof" image) a dict of all non-label keys ("_mask" dropped).
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


class _DistillAtPatchSize(keras.Model):
    """Training-only model: the student at one patch size, loss = distance to a frozen teacher.

    Inputs are the batch dict (or the image alone); the student sees "image", the
    teacher `teacher_input` (big_vision's "prof": the teacher's own resolution, from
    the same crop) or "image" when absent. Only the student's variables train.
    """

    def __init__(self, student, teacher, distance="kl", distance_kw=None, teacher_input="prof", **kwargs):
        super().__init__(**kwargs)
        self.student = student
        self.teacher = teacher
        self.teacher.trainable = False
        self.distance = distance
        self.distance_kw = dict(distance_kw or {})
        self.teacher_input = teacher_input

    def call(self, x, training=False):
        image = x["image"] if isinstance(x, dict) else x
        return self.student(image, training=training)

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        from keras_vision.losses import dist

        if isinstance(x, dict):
            teacher_x = x.get(self.teacher_input, x["image"])
        else:
            teacher_x = x
        teacher_logits = keras.ops.stop_gradient(self.teacher(teacher_x, training=False))
        return keras.ops.mean(dist(y_pred, teacher_logits, self.distance, **self.distance_kw))


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
    rng = np.random.default_rng((max(int(seed), 0), max(int(step), 0)))
    p = None if weights is None else np.asarray(weights, np.float64) / np.sum(weights)
    return patch_sizes[int(rng.choice(len(patch_sizes), p=p))]


@keras_vision_export("keras_vision.trainers.FlexiTrainer")
class FlexiTrainer:
    """Trains a FlexiViT with a patch size drawn per step from a fixed set.

    Holds one model per patch size (`model.with_patch_size(p)`): all of them share the
    same variables and the same optimizer, and each keeps its own compiled train
    function, so every patch size is traced and compiled once, and a step costs what a
    plain ViT step at that patch size costs. The patch size of step `s` is drawn with
    `numpy.random.default_rng((seed, s))` (as big_vision's `trainers/proj/flexi`), so a
    run is deterministic and resumes with the same sequence of sizes.

    This is a training-time wrapper: it never reaches a preset or a SavedModel; the
    trained weights live in `trainer.model` (the model passed in).

    Args:
        model: a model with `with_patch_size(p)` returning a weight-sharing copy
            (`FlexiViTImageClassifier`, `FlexiViTBackbone`).
        patch_sizes: list of ints or (h, w) pairs to sample from.
        weights: optional relative probabilities (big_vision's `flexi.seqhw.p`);
            default uniform.
        seed: int, keys the per-step patch-size RNG.
        teacher: optional frozen Keras model to distil from (big_vision
            `trainers/proj/flexi/distill.py`): the loss becomes
            `mean(keras_vision.losses.dist(student, teacher, distance, **distance_kw))`
            and any `loss=` given to `compile` is ignored; compiled metrics still
            compare the student's logits to the labels.
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
                 distance_kw=None, teacher_input="prof"):
        if not hasattr(model, "with_patch_size"):
            raise TypeError(f"FlexiTrainer needs a model with `with_patch_size`, got {type(model).__name__}.")
        if not patch_sizes:
            raise ValueError("`patch_sizes` must name at least one patch size, got an empty list.")
        self.model = model
        self.patch_sizes = [_key(p) for p in patch_sizes]
        if len(set(self.patch_sizes)) != len(self.patch_sizes):
            raise ValueError(f"`patch_sizes` has duplicates: {list(patch_sizes)}.")
        if weights is not None:
            weights = np.asarray(weights, dtype=np.float64)
            if weights.shape != (len(self.patch_sizes),) or np.any(weights < 0) or weights.sum() <= 0:
                raise ValueError(
                    f"`weights` must be {len(self.patch_sizes)} non-negative numbers with a positive sum "
                    f"(one per patch size {self.patch_sizes}), got {weights.tolist()}."
                )
            weights = weights / weights.sum()
        self.weights = weights
        self.seed = int(seed)
        self.teacher = teacher
        self._distill = dict(distance=distance, distance_kw=distance_kw, teacher_input=teacher_input)
        own = _key(model.patch_size) if getattr(model, "patch_size", None) is not None else None
        self.models = {}
        for p in self.patch_sizes:
            self.models[p] = self._wrap(model if p == own else model.with_patch_size(_as_pair(p)), p)
        self._check_shared()
        self.compiled = False

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

    def _wrap(self, student, p):
        if self.teacher is None:
            return student
        return _DistillAtPatchSize(student, self.teacher, name=f"distill_p{_as_pair(p)[0]}", **self._distill)

    @classmethod
    def from_recipe(cls, model, config):
        """The trainer a recipe asks for with `config.trainer = "flexi"`.

        Reads `config.flexi` (see `from_config`; `seqhw` is turned into patch sizes at
        the model's image height), `config.seed`, and for distillation big_vision's
        `config.teachers = ["prof"]` with `config.prof_name`, `config.prof` (model
        kwargs), optional `config.prof_init` (big_vision .npz / .keras) and
        `config.distance` / `config.distance_kw`.
        """
        flexi = dict(config.get("flexi") or {})
        backbone = getattr(model, "backbone", model)
        image_size = int(backbone.image_shape[0])
        teacher, teacher_input = None, "prof"
        teachers = list(config.get("teachers") or [])
        if len(teachers) > 1:
            raise ValueError(f"FlexiTrainer distils from one teacher, got config.teachers={teachers}.")
        if teachers:
            teacher_input = teachers[0]
            teacher = _build_teacher(config, teacher_input)
        return cls.from_config(
            model, flexi, image_size=image_size, seed=config.get("seed", 0), teacher=teacher,
            distance=config.get("distance", "kl"), distance_kw=config.get("distance_kw"), teacher_input=teacher_input,
        )

    def get_config(self):
        """The sampling settings (the model is not part of a trainer's config)."""
        return {
            "patch_sizes": list(self.patch_sizes),
            "weights": None if self.weights is None else self.weights.tolist(),
            "seed": self.seed,
        }

    def _check_shared(self):
        ref = [id(v) for v in self.model.trainable_variables]
        if self.teacher is not None:
            teacher_ids = {id(v) for v in self.teacher.weights}
            if teacher_ids & set(ref):
                raise ValueError("The teacher shares variables with the student; pass a separate model.")
        for p, m in self.models.items():
            ids = [id(v) for v in m.trainable_variables]
            if ids != ref:
                # The shared optimizer maps gradients to slots by position.
                raise ValueError(
                    f"The patch-size-{p} model does not share the base model's trainable variables in the "
                    "same order; `with_patch_size` must reuse the same layers."
                )

    def patch_size_at(self, step):
        """The patch size trained at `step` (deterministic in (seed, step))."""
        return patch_size_for_step(step, self.patch_sizes, self.weights, self.seed)

    def compile(self, optimizer="adam", **kwargs):
        """Compiles every per-size model with the SAME optimizer (shared slots and step).

        kwargs go to `keras.Model.compile` (loss, metrics, jit_compile, ...). Models
        that override `compile` with defaults (Tasks) receive the same kwargs.
        """
        optimizer = keras.optimizers.get(optimizer)
        if self.teacher is not None:
            kwargs = {k: v for k, v in kwargs.items() if k != "loss"}  # the loss is the distance
        for m in self.models.values():
            m.compile(optimizer=optimizer, **kwargs)
        if self.model not in self.models.values():
            self.model.compile(optimizer=optimizer, **kwargs)
        self.optimizer = optimizer
        self._compile_kwargs = dict(kwargs)
        self.compiled = True

    def compile_like_model(self):
        """Compiles the per-size models with the optimizer and loss `model` was compiled with.

        For runners that compile the model themselves (the recipe runner): compile the
        model, build `FlexiTrainer(model, ...)`, then `fit` (which calls this if needed).
        """
        if not self.model.compiled:
            raise RuntimeError("FlexiTrainer: compile the model (or call `FlexiTrainer.compile`) before training.")
        kwargs = {} if self.model.loss is None or self.teacher is not None else {"loss": self.model.loss}
        for m in self.models.values():
            if m is not self.model:
                m.compile(optimizer=self.model.optimizer, **kwargs)
        self.optimizer = self.model.optimizer
        self._compile_kwargs = kwargs
        self.compiled = True

    def train_step(self, batch, step=None):
        """One update on `batch` at the patch size drawn for `step`; returns that batch's logs.

        `step` defaults to the optimizer's iteration count, which checkpoints restore,
        so a resumed run draws the same patch sizes as an uninterrupted one.
        """
        if not self.compiled:
            self.compile_like_model()
        if step is None:
            step = int(keras.ops.convert_to_numpy(self.optimizer.iterations))
        p = self.patch_size_at(step)
        x, y = split_batch(_to_numpy(batch), image_only=self.teacher is None)
        logs = self.models[p].train_on_batch(x, y, return_dict=True)
        logs = {k: float(v) for k, v in logs.items()}
        logs["patch_size"] = p if isinstance(p, int) else p[0]
        return logs

    def fit(self, x, epochs=1, steps_per_epoch=None, callbacks=None, verbose=0, initial_epoch=0, **kwargs):
        """`keras.Model.fit` for a patch size per step: same callback protocol and logs.

        Callbacks see `trainer.model` (the weights being trained) and, like Keras,
        running means over the epoch in `on_train_batch_end`/`on_epoch_end` logs, plus
        "patch_size" (this batch's) in the batch logs. Step `s` trains at
        `patch_size_at(s)`, where `s` counts optimizer updates (so resuming from a
        checkpoint continues the same sequence).

        Args:
            x: iterable of batches (`tf.data.Dataset`, generator, list): (x, y) tuples
                or dicts with "image" and "labels"; re-iterated when exhausted.
            epochs, initial_epoch: as in `keras.Model.fit`.
            steps_per_epoch: required unless `x` has a length.
            callbacks: Keras callbacks.
            verbose: 0 silent, else one line per epoch.
            **kwargs: accepted for drop-in use with `model.fit` arguments that do not
                apply here (`shuffle`, `validation_data` is not supported).

        Returns:
            A `keras.callbacks.History` (epoch logs) with `.batch_logs`, every batch's logs.
        """
        if kwargs.get("validation_data") is not None:
            raise ValueError("FlexiTrainer.fit has no validation_data; use evaluators or `evaluate`.")
        if not self.compiled:
            self.compile_like_model()
        if steps_per_epoch is None:
            try:
                steps_per_epoch = len(x)
            except TypeError:
                raise ValueError("FlexiTrainer.fit needs `steps_per_epoch` for an unsized dataset.") from None
        history = keras.callbacks.History()
        history.batch_logs = []
        cbs = keras.callbacks.CallbackList(
            list(callbacks or []) + [history], add_history=False, add_progbar=False, model=self.model,
            epochs=epochs, steps=steps_per_epoch, verbose=0,
        )
        self.model.stop_training = False
        step = int(keras.ops.convert_to_numpy(self.optimizer.iterations))
        iterator = iter(x)
        cbs.on_train_begin()
        epoch_logs = {}
        for epoch in range(initial_epoch, epochs):
            cbs.on_epoch_begin(epoch)
            sums, n = {}, 0
            for batch_index in range(steps_per_epoch):
                try:
                    batch = next(iterator)
                except StopIteration:
                    iterator = iter(x)
                    batch = next(iterator)
                cbs.on_train_batch_begin(batch_index)
                logs = self.train_step(batch, step)
                step += 1
                history.batch_logs.append(dict(logs, step=step))
                n += 1
                for k, v in logs.items():
                    if k != "patch_size":
                        sums[k] = sums.get(k, 0.0) + v
                epoch_logs = {k: v / n for k, v in sums.items()}
                cbs.on_train_batch_end(batch_index, dict(epoch_logs, patch_size=logs["patch_size"]))
                if self.model.stop_training:
                    break
            cbs.on_epoch_end(epoch, dict(epoch_logs))
            if verbose:
                print(f"epoch {epoch + 1}/{epochs}: " + ", ".join(f"{k}={v:.4g}" for k, v in epoch_logs.items()))
            if self.model.stop_training:
                break
        cbs.on_train_end(dict(epoch_logs))
        return history

    def evaluate(self, dataset, patch_sizes=None, steps=None):
        """Evaluates at each patch size (default: all trained sizes) -> {size: logs}.

        Metrics are averaged over batches weighted by batch size. `dataset` is
        re-iterated once per size; it must yield (x, y) tuples or dicts.
        """
        out = {}
        for p in patch_sizes or self.patch_sizes:
            p = _key(p)
            m = self.model_at(p)
            sums, count = {}, 0
            for i, batch in enumerate(dataset):
                if steps is not None and i >= steps:
                    break
                x, y = split_batch(_to_numpy(batch), image_only=self.teacher is None)
                n = len(x["image"] if isinstance(x, dict) else x)
                logs = m.test_on_batch(x, y, return_dict=True)
                for k, v in logs.items():
                    sums[k] = sums.get(k, 0.0) + float(v) * n
                count += n
            out[p] = {k: v / max(count, 1) for k, v in sums.items()}
        return out

    def model_at(self, p):
        """The compiled training model at patch size `p` (created, sharing weights, on first use).

        Without a teacher that is the weight-sharing `model.with_patch_size(p)`.
        """
        p = _key(p)
        if p not in self.models:
            if not self.compiled:
                self.compile_like_model()
            m = self._wrap(self.model.with_patch_size(_as_pair(p)), p)
            m.compile(optimizer=self.optimizer, **self._compile_kwargs)
            self.models[p] = m
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
                keras.ops.convert_to_numpy(m.predict_on_batch(images))
            out[p] = repeats * len(images) / (time.perf_counter() - t0)
        return out
