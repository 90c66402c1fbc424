"""A tiny ViT classifier trained from scratch on the embedded shapes world.

The "hello world" of keras_vision: big_vision's plain-ViT recipe (vit_s16_i1k: GAP
pooling, sincos2d position embedding, Adam with decoupled weight decay, warmup + cosine,
gradient clipping, classification eval) shrunk to 32x32 images of ten shape classes,
so that it trains on a laptop CPU. Paper: "Better plain ViT baselines for
ImageNet-1k" (Beyer et al., 2022, arXiv:2205.01580).

Commands:
  keras-vision train recipes/vit_shapes.py:runlocal --workdir runs/vit_shapes_local   # seconds
  keras-vision train recipes/vit_shapes.py --workdir runs/vit_shapes                  # CPU-sized
  keras-vision eval runs/vit_shapes --only val

Arguments (`recipes/vit_shapes.py:variant=mu/4,runlocal`):
  variant: big_vision ViT variant with patch size (default "mu/4"); "mu" is widened
      to 4 layers of width 64 (runlocal: big_vision's mu, 1 layer of width 32).
  runlocal: a few steps on a few examples, to check that everything runs.
  steps: number of training steps of the default mode.

Expected result (measured on JAX, 2 shared CPU cores, 2026-11):
  runlocal: 20 steps, ~20 s wall including start-up; a wiring check, accuracy is chance
      (val/prec@1 ~0.09).
  default: 2000 steps of batch 64 (2.6 epochs of the 50k-image train split), 204k
      params, ~3.6 steps/s (~230 img/s), 9.4 min of training: val/prec@1 = 0.722,
      val/loss = 0.814; few-shot on frozen pre-logits (mean of 3 seeds):
      1-shot 0.488, 5-shot 0.635, 10-shot 0.646. Still improving: `steps=4000` trains
      longer.
"""

from keras_vision.config import ConfigDict
from keras_vision.config import parse_arg

NUM_CLASSES = 10
IMAGE_SIZE = 32


def get_config(arg=None):
    arg = parse_arg(arg, variant="mu/4", runlocal=False, steps=2000)
    c = ConfigDict()
    c.seed = 0

    pp_common = f"value_range(-1, 1)|onehot({NUM_CLASSES}, key='label', key_result='labels')|keep('image', 'labels')"
    c.input = dict(
        data=dict(name="shapes", split="train", image_size=IMAGE_SIZE),
        batch_size=64,
        shuffle_buffer_size=5_000,
        # Every shape class is mirror-symmetric as a class, so flips are label-preserving.
        pp=f"flip_lr|{pp_common}",
    )
    c.total_steps = arg.steps
    c.log_training_steps = 50
    c.ckpt_steps = 500

    c.model_name = "vit"
    c.model = dict(variant=arg.variant, num_classes=NUM_CLASSES, pool_type="gap", posemb="sincos2d",
                   image_size=IMAGE_SIZE)
    tiny = arg.variant.startswith("mu/")
    if tiny:  # big_vision's "mu" (1 layer, width 32) is too small to learn shapes well
        c.model.update(width=64, depth=4, mlp_dim=256, num_heads=4)
    c.model_init = None

    c.loss = "softmax_xent"
    c.optax_name = "scale_by_adam"
    c.lr = 1e-3
    c.wd = 1e-4
    c.grad_clip_norm = 1.0
    c.schedule = dict(warmup_steps=min(100, arg.steps // 10), decay_type="cosine")

    c.evals = dict(
        val=dict(type="classification", data=dict(name="shapes", split="val", image_size=IMAGE_SIZE),
                 pp_fn=pp_common, loss_name="softmax_xent", log_steps=500),
        fewshot=dict(type="fewshot_lsr", log_steps=1000, shots=(1, 5, 10), num_seeds=3,
                     datasets={"shapes": (dict(name="shapes", image_size=IMAGE_SIZE), "train[:2000]", "val")},
                     pp_train="value_range(-1, 1)|keep('image', 'label')",
                     pp_eval="value_range(-1, 1)|keep('image', 'label')",
                     display_first=[("shapes", 10)], prefix=""),
    )

    if arg.runlocal:
        c.total_steps = 20
        c.input.batch_size = 8
        c.input.shuffle_buffer_size = 50
        c.log_training_steps = 5
        c.ckpt_steps = 10
        c.schedule = dict(warmup_steps=2, decay_type="cosine")
        if tiny:
            c.model.update(width=32, depth=1, mlp_dim=128, num_heads=2)
        c.evals.val.data.split = "val[:64]"
        c.evals.val.log_steps = 10
        c.evals.fewshot.datasets = {"shapes": (dict(name="shapes", image_size=IMAGE_SIZE), "train[:100]", "val[:64]")}
        c.evals.fewshot.shots = (1, 5)
        c.evals.fewshot.num_seeds = 1
        c.evals.fewshot.log_steps = 20
    return c
