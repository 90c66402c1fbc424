r"""AugReg: ViT pre-training on ImageNet-21k (then fine-tune with recipes/transfer.py).

Port of big_vision `configs/vit_i21k.py`: "How to train your ViT? Data, Augmentation,
and Regularization in Vision Transformers" (Steiner et al., 2021, arXiv:2106.10270).
The paper's main finding: with the right augmentation (`aug` presets, see
recipes/vit_i1k.py or `keras_vision.config.recipe_helpers.AUGREG_PRESETS`), ImageNet-21k
pre-training for 300 epochs matches ViTs trained on 10x more data, and the
pre-trained models transfer better than any amount of augmentation on ImageNet-1k alone.

Hyper-parameters (as big_vision): 21,843 classes, `pool_type="gap"`, learned posemb,
no pre-logits layer, sigmoid cross-entropy with head bias -10 (~ log(1/21843)), 224 px,
batch 4096, 300 epochs of `full[51200:]` (the first 51,200 images are held out as
test and val), `scale_by_adam` (bfloat16 first moment), lr 1e-3, decoupled wd 1e-4,
10k warmup + cosine, clip 1.0. Default preset per variant (big_vision): Ti/16, S/32
none; S/16 light1; B/32, B/16 light2; L/16 medium2. Regularization (dropout,
stochastic depth) is not used: the paper found it does not help at ImageNet-21k scale.
Evals: held-out i21k test / val / train slices, few-shot linear probes.
Difference: big_vision's config ignores its `aug` argument (always the variant's
default); here `aug=` selects the preset.

Expected: no number in big_vision's config. The paper's recommended i21k checkpoints
(big_vision `howto-i21k-{Ti/16,...,L/16}`, chosen by transfer accuracy, some with
another preset/wd than the defaults here) fine-tuned with recipes/transfer.py give,
for B/32 (big_vision's transfer.py docstring, mean of 5 runs): ImageNet 83.27 %,
CIFAR-10 98.55 %, CIFAR-100 91.35 %, Pets 93.78 %, Flowers 99.43 %. Not reproduced
here. ImageNet-21k is not in public TFDS; point `input.data` at your copy.

Arguments (`recipes/vit_i21k.py:variant=B/32,aug=light2`):
  variant: ViT size/patch (default "B/16"); aug: a preset (default: the variant's);
  epochs: 300 (default, as big_vision); the paper also reports 30;
  runlocal: shapes world, 32 px, 10 classes, a 1-layer width-32 ViT "mu/8", the
      preset's augmentation, 20 steps of batch 8.

Commands:
  keras-vision train recipes/vit_i21k.py:variant=B/16 --workdir runs/augreg_b16_i21k
  keras-vision train recipes/vit_i21k.py:runlocal --workdir runs/vit_i21k_local
"""

import math

from keras_vision.config import ConfigDict
from keras_vision.config import parse_arg
from keras_vision.config import recipe_helpers as ru

DEFAULT_AUG = {"Ti/16": "none", "S/32": "none", "S/16": "light1", "B/32": "light2", "B/16": "light2",
               "L/16": "medium2"}


def get_config(arg=None):
    """AugReg ImageNet-21k pre-training; `runlocal` runs it on shapes."""
    a = parse_arg(arg, variant="B/16", aug="", epochs=300, runlocal=False)
    aug_name, aug = ru.augreg_preset(a.aug, a.variant, DEFAULT_AUG)
    res, num_classes = (32, 10) if a.runlocal else (224, 21843)
    c = ConfigDict()
    c.seed = 0
    c.aug = aug_name  # recorded in config.json; the engine does not read it
    c.total_epochs = a.epochs
    c.num_classes = num_classes
    c.loss = "sigmoid_xent"

    # big_vision's i21k TFDS data has "labels"; onehot's default key falls back to "label" (shapes).
    labels = f"value_range(-1, 1)|onehot({num_classes})|keep('image', 'labels')"
    data = dict(name="imagenet21k", split="full[51200:]")
    c.input = dict(
        data=data,
        batch_size=4096,
        shuffle_buffer_size=250_000,
        pp=ru.pp_join(f"decode_jpeg_and_inception_crop({res})", "flip_lr", aug.randaug, labels),
    )
    c.log_training_steps = 50
    c.ckpt_steps = 1000

    c.model_name = "vit"
    c.model = dict(variant=a.variant, pool_type="gap", posemb="learn", num_classes=num_classes,
                   init_head_bias=round(-math.log(num_classes), 1))  # -10.0; runlocal -2.3

    # Adam (bfloat16 first moment), decoupled wd (x schedule, not x lr), clip 1.
    ru.adam(c, lr=0.001, wd=0.0001, warmup_steps=10_000, decay_type="cosine")
    c.mixup = aug.mixup

    pp_eval = ru.pp_join(f"decode|resize_small({res * 8 // 7})|central_crop({res})", labels)
    c.evals = {name: ru.classification_eval(dict(data, split=split), pp_eval, c.loss, log_steps=1000)
               for name, split in (("test", "full[:25600]"), ("val", "full[25600:51200]"),
                                   ("train", "full[51200:76800]"))}
    c.evals.fewshot = ru.fewshot_eval(log_steps=25_000)

    if a.runlocal:
        ru.classification_runlocal(c, pp_eval, image_size=res)
    return c
