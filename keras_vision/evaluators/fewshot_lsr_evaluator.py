"""Few-shot linear probes by closed-form ridge regression (big_vision `fewshot_lsr`)."""

import weakref

import keras
import numpy as np

from keras_vision.evaluators import common
from keras_vision.evaluators.evaluator import Evaluator
from keras_vision.evaluators.registry import register

# A constant feature for the bias, large so that its weight is almost unregularized.
BIAS_CONSTANT = 100.0


def precompute_cache(x, y, num_classes):
    """Whitens features, appends the bias feature and eigendecomposes the Gram matrix.

    With N points of dimension D, ridge regression is (XᵀX + λI)⁻¹Xᵀy when N >= D and
    Xᵀ(XXᵀ + λI)⁻¹y otherwise; both are `lhs · diag(1/(eigs + λ)) · rhs` for the
    eigendecomposition of the smaller Gram matrix, so any λ costs one matmul.
    Computed in float64 (big_vision uses float32 on CPU; accuracies agree).
    """
    x = np.asarray(x, np.float64)
    mean = x.mean(axis=0, keepdims=True)
    std = x.std(axis=0, keepdims=True) + 1e-5
    x = (x - mean) / std
    x = np.pad(x, ((0, 0), (0, 1)), constant_values=BIAS_CONSTANT)
    y = 2.0 * np.eye(num_classes)[np.asarray(y)] - 1.0  # one-hot in {-1, +1}
    n, d = x.shape
    if n >= d:
        eigs, q = np.linalg.eigh(x.T @ x)
        lhs, rhs = q, q.T @ (x.T @ y)
    else:
        eigs, q = np.linalg.eigh(x @ x.T)
        lhs, rhs = x.T @ q, q.T @ y
    return {"eigs": eigs, "lhs": lhs, "rhs": rhs, "mean": mean, "std": std}


def fewshot_accuracy(cache, x_test, y_test, l2_reg):
    """Accuracy on (x_test, y_test) of the ridge regressor with strength `l2_reg`."""
    x = (np.asarray(x_test, np.float64) - cache["mean"]) / cache["std"]
    x = np.pad(x, ((0, 0), (0, 1)), constant_values=BIAS_CONSTANT)
    w = (cache["lhs"] / (cache["eigs"] + l2_reg)[None, :]) @ cache["rhs"]
    return float(np.mean((x @ w).argmax(axis=1) == np.asarray(y_test)))


def _pick(out, layer):
    if isinstance(out, dict):
        for key in (layer, "pre_logits", "pooled_output", "pooled", "features"):
            if key in out:
                return out[key]
        raise ValueError(f"Representation {layer!r} not among the outputs {sorted(out)}.")
    if isinstance(out, (list, tuple)):
        return out[0]
    return out


def representation_fn(model, layer="pre_logits"):
    """`fn(x) -> features` giving `layer` of `model` (inference mode, jit-compiled).

    Looks for, in order: a layer of a functional model named `layer`; the pooled
    output of `model.backbone` (KerasHub tasks); the `layer` entry of dict outputs.
    """
    inputs = getattr(model, "inputs", None)
    if layer and inputs:
        try:
            target = model.get_layer(layer)
        except ValueError:
            target = None
        if target is not None:
            sub = keras.Model(inputs, target.output)
            return lambda x: sub.predict_on_batch(x)
    backbone = getattr(model, "backbone", None)
    if backbone is not None:
        return lambda x: _pick(backbone.predict_on_batch(x), layer)
    return lambda x: _pick(model.predict_on_batch(x), layer)


def _data_config(spec, split):
    if isinstance(spec, dict):
        return {**spec, "split": split}
    return {"name": spec, "split": split}


@register("fewshot_lsr")
class FewShotLSREvaluator(Evaluator):
    """k-shot linear-probe accuracy of frozen features (big_vision `evaluators/fewshot_lsr.py`).

    For each seed and dataset, draws `shots` training examples per class (a seeded
    permutation of each class's indices, so 5-shot contains the 1-shot examples), fits a
    ridge regression from whitened features (+ a constant bias feature of 100) to ±1
    one-hot targets, and reports test accuracy as `a/<name>_<k>shot-seed-<s>` (pairs in
    `display_first`) or `z/...`. It also yields the mean over seeds without the
    `-seed-<s>` suffix (a keras_vision addition, handy for curves).

    Args:
        datasets: {name: (data, train_split, test_split)}; `data` is a source name
            ("shapes", "digits", a TFDS name) or a data config dict (world kwargs), or
            {name: (train_dataset, test_dataset)} of tf.data example datasets.
        shots: shots per class.
        l2_reg: ridge strength (big_vision: 2**10).
        pp_train, pp_eval: pp strings producing "image" and `label_key` (integer label).
        batch_size: batch size of the feature extraction.
        representation_layer: which features (default "pre_logits", see
            `representation_fn`).
        num_seeds: number of random draws of the k-shot training sets.
        label_key: integer label key.
        display_first: (name, shots) pairs reported under "a/" (others "z/").

    Example:
    >>> ev = FewShotLSREvaluator({"shapes": ("shapes", "train[:2000]", "val")},
    ...     shots=(1, 5), pp_train=pp, pp_eval=pp)
    """

    def __init__(self, datasets, shots=(1, 5, 10, 25), l2_reg=2.0**10, pp_train=None, pp_eval=None,
                 batch_size=32, representation_layer="pre_logits", num_seeds=3, label_key="label",
                 display_first=(), cache="pipeline", num_classes=None):
        self.shots, self.l2_reg, self.num_seeds = tuple(shots), float(l2_reg), int(num_seeds)
        self.representation_layer, self.label_key = representation_layer, label_key
        self.display_first = {tuple(p) for p in display_first}
        self.num_classes = num_classes
        self.datasets = {}
        for name, spec in datasets.items():
            spec = tuple(spec)
            if len(spec) == 2:  # ready-made datasets
                train, test = spec
            else:
                data, train_split, test_split = spec
                train, test = _data_config(data, train_split), _data_config(data, test_split)
            self.datasets[name] = (
                common.EvalData(train, pp_train, batch_size, cache=cache),
                common.EvalData(test, pp_eval, batch_size, cache=cache),
            )
        self._fn = (None, None)

    def _features(self, model, data):
        ref, fn = self._fn
        if ref is None or ref() is not model:
            fn = representation_fn(model, self.representation_layer)
            self._fn = (weakref.ref(model), fn)
        feats, labels = [], []
        for batch in data:
            mask = np.asarray(batch[common.MASK_KEY]) > 0
            x = common.model_inputs(batch, exclude=(self.label_key,))
            f = common.to_numpy(fn(x))
            feats.append(f.reshape(f.shape[0], -1)[mask])
            labels.append(np.asarray(batch[self.label_key])[mask])
        labels = np.concatenate(labels)
        if labels.ndim != 1:
            raise ValueError(
                f"fewshot_lsr needs integer labels under {self.label_key!r}; got shape "
                f"{labels.shape[1:]} per example (drop onehot from pp_train/pp_eval)."
            )
        return np.concatenate(feats), labels.astype(np.int64)

    def compute(self, model):
        """{(name, shots, seed): accuracy} for every dataset, shot count and seed."""
        reps = {name: (*self._features(model, tr), *self._features(model, te))
                for name, (tr, te) in self.datasets.items()}
        results = {}
        for seed in range(self.num_seeds):
            for name, (x_tr, y_tr, x_te, y_te) in reps.items():
                num_classes = self.num_classes or int(max(y_tr.max(), y_te.max())) + 1
                rng = np.random.default_rng(seed)
                class_idx = [rng.permutation(np.where(y_tr == c)[0]) for c in range(num_classes)]
                for shots in self.shots:
                    idx = np.concatenate([ci[:shots] for ci in class_idx])
                    cache = precompute_cache(x_tr[idx], y_tr[idx], num_classes)
                    results[(name, shots, seed)] = fewshot_accuracy(cache, x_te, y_te, self.l2_reg)
        return results

    def run(self, model):
        results = self.compute(model)
        for (name, shots, seed), acc in results.items():
            yield f"{self._prefix(name, shots)}{name}_{shots}shot-seed-{seed}", acc
        for name in self.datasets:
            for shots in self.shots:
                accs = [results[(name, shots, s)] for s in range(self.num_seeds)]
                yield f"{self._prefix(name, shots)}{name}_{shots}shot", float(np.mean(accs))

    def _prefix(self, name, shots):
        return "a/" if (name, shots) in self.display_first else "z/"
