"""FlexiViT on the shapes data: accuracy and images/s per patch size after a short CPU run.

Trains two small ViTs with identical architecture, data, steps and optimizer:
- "FlexiViT": a patch size per step drawn from `--patch-sizes` (`FlexiTrainer`);
- "ViT/<base>": always at the base patch size (a plain ViT), then run at the other
  patch sizes with the same PI-resize and position-embedding resize (the paper's
  "standard ViT is inflexible" baseline, Fig. 3),
and reports validation accuracy and inference images/s at every patch size.

Command (CPU, a few minutes):
    python -m keras_vision.bench.flexivit_shapes --steps 800

Paper: "FlexiViT: One Model for All Patch Sizes" (https://arxiv.org/abs/2212.08013).
"""

import argparse
import json
import time

import keras
import numpy as np

from keras_vision.data import shapes
from keras_vision.models.flexivit.flexivit_backbone import FlexiViTBackbone
from keras_vision.models.flexivit.flexivit_image_classifier import FlexiViTImageClassifier
from keras_vision.trainers.flexi_trainer import FlexiTrainer


def load_shapes(split, num_examples, image_size):
    """(images in [-1, 1], one-hot labels) of the first `num_examples` of a shapes split."""
    data = shapes.batch(split, 0, num_examples, keys=("image", "label"), image_size=image_size)
    x = data["image"].astype("float32") / 127.5 - 1.0
    num_classes = len(shapes.CLASS_NAMES)
    return x, np.eye(num_classes, dtype="float32")[data["label"]]


def build(args, num_classes):
    backbone = FlexiViTBackbone(
        image_shape=(args.image_size, args.image_size, 3),
        patch_size=args.base_patch_size,
        base_patch_size=args.base_patch_size,
        posemb_grid_size=args.posemb_grid,
        hidden_dim=args.width,
        num_layers=args.depth,
        num_heads=args.heads,
        intermediate_dim=4 * args.width,
        pooling="gap",
    )
    return FlexiViTImageClassifier(backbone, num_classes=num_classes)


def train(model, patch_sizes, x, y, args):
    trainer = FlexiTrainer(model, patch_sizes=patch_sizes, seed=args.seed)
    schedule = keras.optimizers.schedules.CosineDecay(
        0.0, args.steps - args.warmup, warmup_target=args.lr, warmup_steps=args.warmup
    )
    trainer.compile(optimizer=keras.optimizers.AdamW(schedule, weight_decay=args.wd), loss="softmax_xent")
    rng = np.random.default_rng(args.seed)

    def batches():
        while True:
            idx = rng.permutation(len(x))
            for i in range(0, len(idx) - args.batch_size + 1, args.batch_size):
                j = idx[i : i + args.batch_size]
                yield x[j], y[j]

    t0 = time.perf_counter()
    history = trainer.fit(batches(), epochs=1, steps_per_epoch=args.steps)
    return trainer, time.perf_counter() - t0, history


def measure(trainer, x, y, patch_sizes, batch_size=250, repeats=3, trials=5):
    """{patch size: (accuracy, inference images/s)} on (x, y).

    images/s is the best of `trials` timings of `repeats` batches (compiled, warm):
    the best trial is the least disturbed by other processes on a shared CPU.
    """
    out = {}
    for p in patch_sizes:
        m = trainer.model_at(p)
        logits = np.concatenate(
            [keras.ops.convert_to_numpy(m.predict_on_batch(x[i : i + batch_size])) for i in range(0, len(x), batch_size)]
        )
        accuracy = float((logits.argmax(-1) == y.argmax(-1)).mean())
        chunk = x[:batch_size]
        best = 0.0
        for _ in range(trials):
            t0 = time.perf_counter()
            for _ in range(repeats):
                keras.ops.convert_to_numpy(m.predict_on_batch(chunk))
            best = max(best, repeats * len(chunk) / (time.perf_counter() - t0))
        out[p] = (accuracy, best)
    return out


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--steps", type=int, default=800)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--train-examples", type=int, default=10_000)
    parser.add_argument("--val-examples", type=int, default=1000)
    parser.add_argument("--image-size", type=int, default=32)
    parser.add_argument("--patch-sizes", default="16,8,4")
    parser.add_argument("--base-patch-size", type=int, default=8)
    parser.add_argument("--posemb-grid", type=int, default=4)
    parser.add_argument("--width", type=int, default=64)
    parser.add_argument("--depth", type=int, default=2)
    parser.add_argument("--heads", type=int, default=4)
    parser.add_argument("--lr", type=float, default=3e-3)
    parser.add_argument("--wd", type=float, default=1e-4)
    parser.add_argument("--warmup", type=int, default=50)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", help="also write the results here")
    args = parser.parse_args(argv)
    patch_sizes = [int(p) for p in args.patch_sizes.split(",")]

    x, y = load_shapes("train", args.train_examples, args.image_size)
    xv, yv = load_shapes("val", args.val_examples, args.image_size)
    results = {"backend": keras.backend.backend(), "args": vars(args), "models": {}}
    for name, train_sizes in (("FlexiViT", patch_sizes), (f"ViT/{args.base_patch_size}", [args.base_patch_size])):
        keras.utils.set_random_seed(args.seed)
        model = build(args, y.shape[-1])
        trainer, seconds, history = train(model, train_sizes, x, y, args)
        scores = measure(trainer, xv, yv, patch_sizes)
        results["models"][name] = {
            "train_seconds": seconds,
            "final_train_loss": history.history["loss"][-1],
            "per_patch_size": {str(p): {"accuracy": a, "images_per_s": s} for p, (a, s) in scores.items()},
        }
        print(f"{name}: {args.steps} steps in {seconds:.1f} s (incl. compiles), "
              f"train loss {history.history['loss'][-1]:.3f}")

    header = "| patch size | tokens | " + " | ".join(f"{n} val acc" for n in results["models"]) + " | images/s |"
    print(header)
    print("|" + "---|" * (header.count("|") - 1))
    flexi = results["models"]["FlexiViT"]["per_patch_size"]
    for p in patch_sizes:
        accs = " | ".join(f"{m['per_patch_size'][str(p)]['accuracy']:.3f}" for m in results["models"].values())
        print(f"| {p} | {(args.image_size // p) ** 2} | {accs} | {flexi[str(p)]['images_per_s']:.0f} |")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=2)
    return results


if __name__ == "__main__":
    main()
