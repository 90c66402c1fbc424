"""3 training steps of the tiny ViT vs big_vision (golden optim_adam_f32.npz), end to end.

The golden holds big_vision's initial parameters, the batch, and for each step the loss,
the gradients and the parameters after the update (sigmoid_xent, scale_by_adam chain,
clip 1.0, wd 0.1 not x lr, cosine schedule with 2 warmup steps out of 10). Here the model
comes from `keras_vision.convert.load_big_vision`, the loss from `keras_vision.losses` and
the optimizer from `make_optimizer`.

Adam divides each gradient element by its own RMS, so elements whose gradient is at the
float32 noise floor get full-size updates in a noise-dependent direction: the attention
key biases (their exact gradient is 0: softmax ignores a shift shared by all keys) and a
few dozen other elements with |g| < 1e-5. Any two implementations that agree to ~1e-7 on
the gradients (this one and big_vision do) move those elements differently, by up to
lr * schedule, and the trajectories then drift apart. So each step starts from big_vision's
parameters of the previous step (the optimizer state is carried over), and parameters are
compared at 1e-5 where the gradient is above that floor; losses and gradients are
compared everywhere. The optimizer alone, fed big_vision's gradients, matches every
element at 1e-5 (test_big_vision_optimizer.py).
"""

import json
import pathlib

import keras
import numpy as np
import pytest
from keras import ops

from keras_vision import losses as L
from keras_vision import optimizers as O

pytestmark = pytest.mark.multibackend
ATOL = 1e-5
GRAD_NOISE_FLOOR = 1e-5


def _np(x):
    return np.asarray(ops.convert_to_numpy(x))


@pytest.fixture(scope="module")
def vit_golden():
    """(golden arrays, meta, model, {variable path: big_vision name}); built once (slow)."""
    convert = pytest.importorskip("keras_vision.convert")
    pytest.importorskip("keras_vision.models.vit")
    path = pathlib.Path(__file__).parents[1] / "fixtures" / "optim_adam_f32.npz"
    with np.load(path) as f:
        g = {k: f[k] for k in f.files}
    meta = json.loads(str(g["meta/config"]))
    params = {k[len("params/"):]: v for k, v in g.items() if k.startswith("params/")}
    model = convert.load_big_vision(params, model="vit", config=meta["model_kwargs"])
    # big_vision name of every trainable variable: its path, except for weights that are
    # the only weight of their layer in big_vision ("pos_embedding/embeddings").
    names = {}
    for v in model.trainable_variables:
        candidates = [v.path, v.path.rsplit("/", 1)[0]]
        match = [n for n in candidates if n in params and params[n].shape == tuple(v.shape)]
        assert match, (v.path, candidates)
        names[v.path] = match[0]
        np.testing.assert_array_equal(_np(v), params[match[0]])
    assert sorted(names.values()) == sorted(params)
    return g, meta, model, names


def _set_params(model, names, g, key):
    for v in model.trainable_variables:
        v.assign(g[f"{key}/{names[v.path]}"])


def _loss_and_grads_fn(model):
    """fn(x, y) -> sigmoid_xent and its gradients w.r.t. model.trainable_variables."""
    backend = keras.backend.backend()
    if backend == "jax":
        import jax

        def loss_fn(trainable, non_trainable, x, y):
            logits, _ = model.stateless_call(trainable, non_trainable, x, training=True)
            return L.sigmoid_xent(logits=logits, labels=y)

        grad_fn = jax.jit(jax.value_and_grad(loss_fn))
        return lambda x, y: grad_fn([v.value for v in model.trainable_variables],
                                    [v.value for v in model.non_trainable_variables], x, y)
    if backend == "tensorflow":
        import tensorflow as tf

        def fn(x, y):
            with tf.GradientTape() as tape:
                loss = L.sigmoid_xent(logits=model(x, training=True), labels=y)
            return loss, tape.gradient(loss, model.trainable_variables)

        return fn
    pytest.skip(f"no gradient helper for backend {backend}")


def test_vit_loss_and_gradients_at_each_step(vit_golden):
    g, _, model, names = vit_golden
    x, y = g["inputs/image"], g["inputs/labels"]
    loss_and_grads = _loss_and_grads_fn(model)
    for step in range(3):
        _set_params(model, names, g, f"outputs/step{step - 1}/params_after" if step else "params")
        loss, grads = loss_and_grads(x, y)
        np.testing.assert_allclose(_np(loss), g[f"outputs/step{step}/loss"], atol=ATOL)
        for v, grad in zip(model.trainable_variables, grads):
            np.testing.assert_allclose(
                _np(grad), g[f"outputs/step{step}/grads/{names[v.path]}"], atol=ATOL,
                err_msg=f"step {step} grad {names[v.path]}")


def test_vit_three_train_steps(vit_golden):
    g, meta, model, names = vit_golden
    x, y = g["inputs/image"], g["inputs/labels"]
    model.compile(
        optimizer=O.make_optimizer(meta["config"], total_steps=meta["sched_kw"]["total_steps"]),
        loss=L.BigVisionLoss(meta["loss"].split(".")[-1]),  # "utils.sigmoid_xent"
        metrics=[])
    min_abs_grad = {n: np.inf for n in names.values()}
    for step in range(3):
        _set_params(model, names, g, f"outputs/step{step - 1}/params_after" if step else "params")
        logs = model.train_on_batch(x, y, return_dict=True)
        # Keras reports the loss of the forward pass before this step's update.
        np.testing.assert_allclose(logs["loss"], g[f"outputs/step{step}/loss"], atol=ATOL)
        compared = 0
        for v in model.trainable_variables:
            name = names[v.path]
            min_abs_grad[name] = np.minimum(
                min_abs_grad[name], np.abs(g[f"outputs/step{step}/grads/{name}"]))
            well_conditioned = min_abs_grad[name] >= GRAD_NOISE_FLOOR
            error = np.abs(_np(v) - g[f"outputs/step{step}/params_after/{name}"])
            assert error[well_conditioned].max(initial=0) < ATOL, (step, name, error.max())
            # Noise-floor elements still move by at most one update (lr * schedule).
            assert error.max() <= 0.01 * 1.0 + ATOL, (step, name, error.max())
            compared += int(well_conditioned.sum())
        # Nearly everything is compared: 80970 values, < 0.5% at the noise floor.
        assert compared > 0.995 * sum(int(np.prod(v.shape)) for v in model.trainable_variables)
