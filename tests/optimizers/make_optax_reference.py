"""Writes optax_reference.npz: big_vision's optimizer chain run with optax itself.

The golden optim_adam_f32.npz (big_vision's own code) covers float32 Adam with the
default masks only. This file covers the rest of big_vision's `optax.make` chain
(bf16 first moment, momentum_hp, the big_vision Adafactor, freezing, lr_mults,
wd_mults, per-regex schedules) by composing the same optax transformations in
the same order as big_vision/optax.py::make does (re-expressed here, read from
the notes in shared/reference/big_vision_notes.md §3.5, not copied).

Not part of the test suite; it needs jax + optax (not project dependencies):
    uv venv /tmp/oxenv && VIRTUAL_ENV=/tmp/oxenv uv pip install optax==0.2.4 jax==0.6.0
    /tmp/oxenv/bin/python tests/optimizers/make_optax_reference.py
"""

import json
import pathlib
import re

import jax
import jax.numpy as jnp
import numpy as np
import optax

SHAPES = {
    "img/conv/kernel": (3, 3, 2, 8),        # Adafactor: not factored (2nd largest < 32).
    "img/conv/bias": (8,),
    "img/dense/kernel": (40, 32),           # Factored.
    "img/dense/bias": (32,),
    "txt/embedding": (34, 32),              # Factored; no "/kernel": no weight decay.
    "head/kernel": (2, 32, 33),             # Factored over the last two axes.
    "head/bias": (33,),
    "t": (),                                # Scalar (like SigLIP's temperature).
}
NUM_STEPS = 4
TOTAL_STEPS = 6
GRAD_SCALES = (0.05, 3.0, 0.2, 5.0)  # Some steps below, some above the clip norm.
SAVED_STEPS = (1, 3)  # Keeps the file small; step 0 is the all-zero warmup step in most cases.

CASES = {
    "adam_bf16": dict(
        optax_name="scale_by_adam", optax=dict(mu_dtype="bfloat16"), lr=0.01, wd=0.1,
        grad_clip_norm=1.0, schedule=dict(decay_type="cosine", warmup_steps=1)),
    "adam_nesterov_b2": dict(
        optax_name="scale_by_adam", optax=dict(b2=0.95, nesterov=True), lr=0.003, wd=0.01,
        grad_clip_norm=1.0, schedule=dict(decay_type="linear", linear_end=0.1)),
    "momentum_hp_frozen": dict(
        optax_name="big_vision.momentum_hp", lr=0.1, wd=0.01, grad_clip_norm=1.0,
        lr_mults=[("head/.*", 2.0)],
        wd_mults=[(".*/kernel$", 1.0), (".*/bias$", 0.5)],
        schedule=[("img/.*", None), (".*", dict(decay_type="cosine", warmup_steps=1))]),
    "adafactor": dict(
        optax_name="big_vision.scale_by_adafactor", optax=dict(beta2_cap=0.95), lr=0.005,
        wd=0.03, grad_clip_norm=1.0,
        schedule=dict(decay_type="rsqrt", timescale=2, warmup_steps=1, cooldown_steps=2)),
    "adafactor_clip_nomom": dict(
        optax_name="big_vision.scale_by_adafactor",
        optax=dict(clipping_threshold=0.5, momentum=None, min_dim_size_to_factor=33),
        lr=0.005, schedule=dict(decay_type="cosine")),
    "sgd_multi_schedule": dict(
        optax_name="big_vision.sgd", lr=0.05, wd=0.2, wd_mults=[("head/kernel", 3.0)],
        schedule=[("head/.*", dict(decay_type="cosine", mult=0.5)),
                  ("txt/.*", None),
                  (".*", dict(decay_type="stair", steps=[2], mults=[0.1], warmup_steps=1))]),
}


def schedule_fn(total_steps, mult=1.0, decay_type="stair", warmup_steps=0, cooldown_steps=0,
                **kw):
    """big_vision's warmup/decay/cooldown multiplier (utils.create_learning_rate_schedule)."""

    def fn(step):
        lr = mult
        progress = jnp.clip((step - warmup_steps) / float(total_steps - warmup_steps), 0.0, 1.0)
        if decay_type in ("linear", "polynomial"):
            end = kw.get("end", kw.get("linear_end", 0))
            lr = end + (lr - end) * (1.0 - progress) ** kw.get("power", 1)
        elif decay_type == "cosine":
            lr = lr * 0.5 * (1.0 + jnp.cos(jnp.pi * progress))
        elif decay_type == "rsqrt":
            t, shift = kw.get("timescale", 10_000), kw.get("shift", 0)
            lr = jnp.where(warmup_steps <= step, lr / jnp.sqrt(1 + (step + shift - warmup_steps) / t),
                           lr / jnp.sqrt(1 + shift / t))
        elif decay_type == "stair":
            i = jnp.searchsorted(jnp.array(kw.get("steps", [])), step + 1)
            lr = lr * jnp.take(jnp.array([1.0] + list(kw.get("mults", []))), i)
        if warmup_steps:
            lr = lr * jnp.minimum(1.0, step / warmup_steps)
        if cooldown_steps:
            lr = lr * jnp.minimum(1.0, (total_steps - step) / cooldown_steps)
        return jnp.asarray(lr, jnp.float32)

    return fn


def bv_adafactor(min_dim_size_to_factor=32, decay_rate=0.8, decay_offset=0, beta2_cap=0.999,
                 clipping_threshold=None, momentum=0.9, dtype_momentum=jnp.bfloat16, eps=1e-30):
    def decay_fn(i, exponent):
        t = jnp.array(i, jnp.float32) + 1.0
        return jnp.minimum(beta2_cap, 1.0 - t ** (-exponent))

    return optax.chain(
        optax.scale_by_factored_rms(
            factored=True, decay_rate=decay_rate, step_offset=decay_offset,
            min_dim_size_to_factor=min_dim_size_to_factor, epsilon=eps, decay_rate_fn=decay_fn),
        optax.clip_by_block_rms(clipping_threshold) if clipping_threshold else optax.identity(),
        optax.ema(momentum, debias=False, accumulator_dtype=dtype_momentum)
        if momentum else optax.identity(),
    )


RULES = {
    "scale_by_adam": optax.scale_by_adam,
    "big_vision.momentum_hp": lambda momentum=0.9, dtype=jnp.bfloat16, nesterov=False: optax.trace(
        decay=momentum, accumulator_dtype=dtype, nesterov=nesterov),
    "big_vision.scale_by_adafactor": bv_adafactor,
    "big_vision.sgd": optax.identity,
}


def first_match_masks(names, pairs):
    """One {name: bool} mask per pattern; each name goes to its first fullmatching pattern."""
    masks = [dict.fromkeys(names, False) for _ in pairs]
    for name in names:
        for i, (pattern, _) in enumerate(pairs):
            if re.fullmatch(pattern, name):
                masks[i][name] = True
                break
    return masks


def make_chain(config, names):
    schedule = config.get("schedule", {})
    if isinstance(schedule, dict):
        schedule = [(".*", schedule)]
    masks = first_match_masks(names, schedule)
    frozen = {n: any(m[n] for m, (_, s) in zip(masks, schedule) if s is None) for n in names}
    not_frozen = {n: not f for n, f in frozen.items()}
    txs = [optax.masked(optax.clip_by_global_norm(config["grad_clip_norm"]), not_frozen)
           if config.get("grad_clip_norm") else optax.identity()]
    txs.append(optax.masked(RULES[config["optax_name"]](**config.get("optax", {})), not_frozen))
    txs.append(optax.scale(config["lr"]))
    for mask, (_, mult) in zip(first_match_masks(names, config.get("lr_mults", [])),
                               config.get("lr_mults", [])):
        txs.append(optax.masked(optax.scale(mult), mask))
    if config.get("wd"):
        wd_mults = config.get("wd_mults", [(".*/kernel$", 1.0)])
        for mask, (_, mult) in zip(first_match_masks(names, wd_mults), wd_mults):
            txs.append(optax.add_decayed_weights(config["wd"] * mult, mask))
    for mask, (_, sched) in zip(masks, schedule):
        if sched is not None:
            txs.append(optax.masked(optax.scale_by_schedule(schedule_fn(TOTAL_STEPS, **sched)), mask))
    txs.append(optax.masked(optax.set_to_zero(), frozen))
    txs.append(optax.scale(-1.0))
    return optax.chain(*txs)


def main():
    rng = np.random.default_rng(1234)
    names = list(SHAPES)
    params = {n: rng.normal(size=s).astype(np.float32) for n, s in SHAPES.items()}
    grads = [
        {n: (scale * rng.normal(size=s) / np.sqrt(len(names))).astype(np.float32)
         for n, s in SHAPES.items()}
        for scale in GRAD_SCALES
    ]
    out = {f"params/{n}": v for n, v in params.items()}
    for step, g in enumerate(grads):
        out.update({f"grads/step{step}/{n}": v for n, v in g.items()})
    for case, config in CASES.items():
        tx = make_chain(config, names)
        p = {n: jnp.asarray(v) for n, v in params.items()}
        state = tx.init(p)
        # Jitted like big_vision's update_fn: on CPU, XLA then keeps `decay * bf16_state` in
        # float32 (excess precision) instead of rounding it to bfloat16 as eager ops do.
        update = jax.jit(tx.update)
        for step, g in enumerate(grads):
            updates, state = update({n: jnp.asarray(v) for n, v in g.items()}, state, p)
            p = optax.apply_updates(p, updates)
            if step in SAVED_STEPS:
                out.update({f"{case}/params_after/step{step}/{n}": np.asarray(v)
                            for n, v in p.items()})
    meta = {
        "cases": CASES, "total_steps": TOTAL_STEPS, "num_steps": NUM_STEPS,
        "saved_steps": SAVED_STEPS,
        "note": "big_vision optax.make chain composed with optax; regexes fullmatch the names.",
        "versions": {"jax": jax.__version__, "optax": optax.__version__, "numpy": np.__version__},
    }
    out["meta/config"] = np.array(json.dumps(meta))
    path = pathlib.Path(__file__).parent / "optax_reference.npz"
    np.savez_compressed(path, **out)
    print(f"wrote {path} ({path.stat().st_size} bytes, {len(out)} arrays)")


if __name__ == "__main__":
    main()
