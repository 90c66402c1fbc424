"""Runs in a fresh interpreter with 8 simulated CPU devices; prints one JSON line.

Usage: python tests/distribution/multidevice_script.py {vit|siglip|paligemma|errors|ckpt|vit22b} [layouts]
(XLA_FLAGS=--xla_force_host_platform_device_count=8 KERAS_BACKEND=jax, set by the tests).
"""

import json
import math
import sys
import tempfile

import numpy as np

import keras
from keras_vision.config import ConfigDict
from keras_vision.config import load_recipe

LAYOUTS = {
    "single": {},
    "data": dict(mesh=[("data", -1)]),
    "fsdp": dict(mesh=[("data", -1)], sharding_strategy=[(".*", "fsdp(axis='data', min_size_to_shard_mb=0)")]),
    "fsdp_tp": dict(mesh=[("data", 4), ("model", 2)], sharding_rules=dict(level="fsdp_tp", min_size_to_shard_mb=0)),
}


def vit_config(steps=3, batch=16):
    c = load_recipe("recipes/vit_shapes.py:runlocal")
    c.total_steps, c.input.batch_size = steps, batch
    c.input.data.split = "train[:256]"
    c.model.update(width=32, depth=2, mlp_dim=64, num_heads=2)
    c.evals = {}
    c.log_training_steps, c.ckpt_steps, c.tensorboard = 1, steps, False
    return c


def siglip_config(steps=3, batch=16):
    c = load_recipe("recipes/siglip_shapes.py:runlocal")
    del c["sentencepiece"]
    c.total_steps, c.input.batch_size = steps, batch
    c.evals = {}
    c.log_training_steps, c.ckpt_steps, c.tensorboard = 1, steps, False
    return c


def paligemma_config(steps=3, batch=16):
    c = load_recipe("recipes/paligemma_shapes.py:runlocal")
    c.total_steps, c.input.batch_size = steps, batch
    c.evals = {}
    c.log_training_steps, c.ckpt_steps, c.tensorboard = 1, steps, False
    return c


CONFIGS = {"vit": vit_config, "siglip": siglip_config, "paligemma": paligemma_config}


def siglip_data(batch=16, vocab=160, seq=16):
    import tensorflow as tf

    rng = np.random.default_rng(0)
    n = batch * 4
    images = rng.uniform(-1, 1, (n, 32, 32, 3)).astype("float32")
    labels = rng.integers(2, vocab, (n, seq)).astype("int32")
    return tf.data.Dataset.from_tensor_slices({"image": images, "labels": labels}).batch(batch).map(lambda b: (b,))


def shard_report(model):
    from keras_vision.backend.jax.train_step_memory import shard_shape
    from keras_vision.backend.jax.train_step_memory import variable_bytes_per_device

    total = sum(math.prod(v.shape) * 4 for v in model.trainable_variables)
    per = variable_bytes_per_device(model.trainable_variables)
    opt = [v for v in model.optimizer.variables if len(v.shape) >= 2]
    return dict(
        param_bytes_total=total,
        param_bytes_per_device=sorted(set(per.values())),
        num_devices_holding=len(per),
        example_shards={v.path: [list(v.shape), list(shard_shape(v))]
                        for i, v in enumerate(model.trainable_variables) if i < 8 or "llm/layers_0/" in v.path},
        optimizer_state_sharded=sum(shard_shape(v) != tuple(v.shape) for v in opt),
        optimizer_states_2d=len(opt),
    )


# Attention key biases get an exactly-zero gradient (a per-query constant added to every
# logit cancels in the softmax): their "gradient" is float noise that Adam scales up to
# +-lr, so they are compared separately.
ZERO_GRAD = "/key/bias"


def run_family(family, layouts):
    from keras_vision.loading import model_from_config
    from keras_vision.trainers import read_metrics
    from keras_vision.trainers import train

    out, ref = {}, None
    for name in layouts:
        cfg = CONFIGS[family]()
        cfg.update(LAYOUTS[name])
        kwargs = dict(train_data=siglip_data()) if family == "siglip" else {}
        with tempfile.TemporaryDirectory() as wd:
            res = train(ConfigDict(cfg), wd, verbose=False, evaluators=[], **kwargs)
            losses = [m["value"] for m in read_metrics(wd) if m["name"] == "training_loss"]
        weights = {v.path: np.asarray(v, np.float64) for v in res.model.weights}
        rec = dict(distribution=res.summary.get("distribution"), losses=losses)
        if ref is None:
            ref = dict(weights=weights, losses=losses)
            # The update is real (so equal results mean something): distance from the init.
            keras.utils.set_random_seed(int(cfg.seed))
            init = model_from_config(cfg).get_weights()
            rec["max_update"] = max(float(np.max(np.abs(a - b))) for a, b in zip(weights.values(), init))
        else:
            errs = {k: float(np.max(np.abs(w - ref["weights"][k]))) for k, w in weights.items()}
            rec["max_abs_err"] = max(e for k, e in errs.items() if ZERO_GRAD not in k)
            rec["worst"] = max((e, k) for k, e in errs.items() if ZERO_GRAD not in k)[1]
            rec["max_abs_err_key_bias"] = max([e for k, e in errs.items() if ZERO_GRAD in k] or [0.0])
            rec["max_loss_err"] = max(abs(a - b) for a, b in zip(losses, ref["losses"]))
        if name != "single":
            rec.update(shard_report(res.model))
        out[name] = rec
        keras.distribution.set_distribution(None)
    return out


def run_misc():
    """Clear errors before training, and sharded checkpoints that resume exactly."""
    from keras_vision.backend.jax.train_step_memory import shard_shape
    from keras_vision.trainers import train

    out = {}
    bad_rule = vit_config()
    bad_rule.update(mesh=[("data", -1)], sharding_strategy=[(".*/Dense_9/kernel", (None, "data")),
                                                             (".*", "fsdp(axis='data', min_size_to_shard_mb=0)")])
    bad_batch = vit_config(batch=12)
    bad_batch.update(LAYOUTS["data"])
    bad_tp = vit_config()
    bad_tp.update(mesh=[("data", 2), ("model", 4)], sharding_rules=dict(level="fsdp_tp", min_size_to_shard_mb=0))
    for name, cfg in (("bad_rule", bad_rule), ("bad_batch", bad_batch), ("bad_tp", bad_tp)):
        with tempfile.TemporaryDirectory() as wd:
            try:
                train(ConfigDict(cfg), wd, verbose=False, evaluators=[])
                out[name] = dict(error=None)
            except Exception as e:  # the test asserts the type and message
                out[name] = dict(error=type(e).__name__, message=str(e), trained=(
                    __import__("pathlib").Path(wd, "metrics.csv").exists()))
        keras.distribution.set_distribution(None)

    class StopAt(keras.callbacks.Callback):
        def __init__(self, step):
            super().__init__()
            self.step, self.seen = step, 0

        def on_train_batch_end(self, batch, logs=None):
            self.seen += 1
            if self.seen >= self.step:
                self.model.stop_training = True

    cfg = vit_config(steps=4)
    cfg.update(LAYOUTS["fsdp_tp"])
    cfg.ckpt_steps = 2
    with tempfile.TemporaryDirectory() as a, tempfile.TemporaryDirectory() as b:
        full = train(ConfigDict(cfg), a, verbose=False, evaluators=[]).model
        full_w = [np.asarray(w) for w in full.get_weights()]
        keras.distribution.set_distribution(None)
        first = train(ConfigDict(cfg), b, verbose=False, evaluators=[], callbacks=[StopAt(2)])
        keras.distribution.set_distribution(None)
        resumed = train(ConfigDict(cfg), b, verbose=False, evaluators=[])
        kernel = [v for v in resumed.model.trainable_variables if v.path.endswith("Dense_0/kernel")][0]
        out["resume"] = dict(
            first_status=first.summary["status"], first_step=first.summary["final_step"],
            final_step=resumed.summary["final_step"],
            max_abs_err=max(float(np.max(np.abs(np.asarray(x) - y)))
                            for x, y in zip(resumed.model.get_weights(), full_w)),
            kernel_shape=list(kernel.shape), kernel_shard=list(shard_shape(kernel)),
        )
    return out


def main():
    what = sys.argv[1]
    layouts = sys.argv[2].split(",") if len(sys.argv) > 2 else list(LAYOUTS)
    import jax

    assert jax.device_count() == 8, jax.devices()
    if what in CONFIGS:
        result = run_family(what, layouts)
    else:
        result = globals()[f"run_{what}"]()
    print("RESULT " + json.dumps(result))


if __name__ == "__main__":
    main()
