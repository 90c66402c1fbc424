"""Input-pipeline throughput of a recipe's training data (its `input.pp` on its `input.data`).

Builds the exact tf.data pipeline `keras-vision train` feeds to the model
(`keras_vision.trainers.builders.build_train_dataset`: source, shuffle, the recipe's pp
string, mixup, batching, prefetch) and pulls batches as fast as it can, with no model:
examples/s here is an upper bound for training throughput; when it is below the
`bench vit` images/s for the same batch, training is input-bound.
"""

import time

import numpy as np

from keras_vision.bench import timing
from keras_vision.config import load_recipe
from keras_vision.trainers import builders


def run_pipeline_bench(recipe, overrides=(), batch_size=None, batches=20, warmup=2, log=None):
    """Times `batches` batches of a recipe's training pipeline; returns a JSON-able record.

    Args:
        recipe: "recipes/NAME.py[:ARG]".
        overrides: `--set KEY=VALUE` strings applied to the config.
        batch_size: override of `input.batch_size`.
        batches: timed batches.
        warmup: untimed batches first (tf.data start-up, shuffle buffer fill).
        log: optional callable(str).
    """
    log = log or (lambda s: None)
    config = load_recipe(recipe, list(overrides))
    batch = int(batch_size or config.input.batch_size)
    start = time.perf_counter()
    it = iter(builders.build_train_dataset(config, 0, batch))
    first = next(it)
    first_s = time.perf_counter() - start
    for _ in range(max(0, warmup - 1)):
        next(it)
    log(f"first batch after {first_s:.2f} s")
    times = timing.time_calls(lambda: next(it), batches)
    stats = timing.summarize(times)
    total = float(np.sum(times))
    x = first[0]
    shapes = {k: list(v.shape) for k, v in x.items()} if isinstance(x, dict) else {"x": list(x.shape)}
    return dict(
        config=dict(recipe=recipe, overrides=list(overrides), batch_size=batch, batches=batches, warmup=warmup,
                    pp=str(config.input.get("pp")), data=dict(config.input.data)),
        machine=timing.machine_info(),
        first_batch_s=first_s,
        batch_s=stats["median_s"],
        examples_per_s=batch * batches / total,
        examples_per_s_median=batch / stats["median_s"],
        input_shapes=shapes,
        times=stats,
        peak_rss_bytes=timing.peak_rss_bytes(),
    )


def format_pipeline_table(record):
    c = record["config"]
    return "\n".join([
        f"input pipeline of {c['recipe']} (batch {c['batch_size']}, {c['batches']} batches)",
        f"pp: {c['pp']}",
        "",
        "| first batch s | median batch s | examples/s (mean) | examples/s (median) |",
        "|---:|---:|---:|---:|",
        f"| {record['first_batch_s']:.2f} | {record['batch_s']:.4f} | {record['examples_per_s']:.1f} | "
        f"{record['examples_per_s_median']:.1f} |",
    ])
