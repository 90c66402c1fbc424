r"""Fine-tune a pre-trained ViT (AugReg i21k, plain ViT-S/16 i1k, ...) on a classification task.

Port of big_vision `configs/transfer.py` ("How to train your ViT?", Steiner et al.,
2021, arXiv:2106.10270: fine-tuning the paper's recommended i21k models).
The pre-trained weights come from `model_init` (a big_vision `.npz`: the published
AugReg files use the legacy layout, which keras_vision converts on load; or a
keras_vision backbone preset folder); the classification head is NOT loaded
(`model_load.dont_load`) and starts at zero for the new classes. Position embeddings
are resampled to the fine-tuning resolution on load (align-corners, as big_vision).

Hyper-parameters (as big_vision): SGD with momentum 0.9 (`big_vision.momentum_hp`,
bfloat16 accumulator), lr 0.01 (the best of {0.003, 0.01, 0.03} is picked on
minival, see below), no weight decay, grad clip 1.0, cosine with linear warmup,
batch 512, softmax cross-entropy, no mixup, 384 px: `resmall_crop`
(`resize_small(448)|random_crop(384)`, default), `inception_crop(384)` or
`resize_crop` (`resize(448)|random_crop(384)`), + flip; eval
`resize_small(448)|central_crop(384)`. Steps (warmup): CIFAR-10/100 10k (500),
ImageNet 20k (500), Pets / Flowers 500 (100), a folder dataset 500 (100).

Expected (big_vision's transfer.py docstring, ViT-AugReg-B/32 i21k, mean of 5 runs,
best lr / crop on minival; not reproduced here):

  | dataset   | crop           | lr    | top-1 %                |
  |-----------|----------------|-------|------------------------|
  | ImageNet  | inception_crop | 0.03  | 83.27 [83.22...83.33]  |
  | CIFAR-10  | resmall_crop   | 0.003 | 98.55 [98.46...98.60]  |
  | CIFAR-100 | resmall_crop   | 0.01  | 91.35 [91.09...91.62]  |
  | Pets      | inception_crop | 0.003 | 93.78 [93.62...94.00]  |
  | Flowers   | inception_crop | 0.003 | 99.43 [99.42...99.45]  |

Arguments (`recipes/transfer.py:model=vit-i21k-augreg-b/32,dataset=cifar10,crop=resmall_crop`):
  model: a key of MODELS (the seven AugReg "recommended" i21k ViTs
      `vit-i21k-augreg-{ti/16,s/32,s/16,b/32,b/16,b/8,l/16}`, `vit-s16` = the plain
      ViT-S/16 300-epoch i1k model of recipes/vit_s16_i1k.py, `bit-m-r50x1`, which needs
      the not-yet-ported BiT family).
  init: the checkpoint to start from (default: the model's big_vision file name,
      expected in the current directory; download it from gs://vit_models/augreg/ or
      gs://big_vision/); a `.npz`, or a backbone preset folder.
  dataset: cifar10 (default), cifar100, imagenet2012, oxford_iiit_pet,
      oxford_flowers102 (TFDS, `data_dir`), or `folder`: `data_dir` holds one
      subfolder of images per class (90 % train / 10 % val, `num_classes` required).
  crop, h_res, l_res, batch_size: as above (defaults resmall_crop, 448, 384, 512).
  runlocal: fine-tune on the shapes world (32 px, 10 classes; `resize_small(36)|
      random_crop(32)`), 20 steps of batch 8. With `init=` a checkpoint, its sizes are
      read from the file (e.g. `init=tests/fixtures/vit_tok_augreg_layout.npz`, a
      2-layer AugReg-layout ViT at 32 px); without, a random 1-layer "mu/8" ViT.

Commands:
  keras-vision train recipes/transfer.py:model=vit-i21k-augreg-b/32,dataset=cifar10,data_dir=~/tfds \
      --workdir runs/transfer_b32_cifar10 --set lr=0.003
  keras-vision train recipes/transfer.py:dataset=folder,data_dir=/data/flowers,num_classes=5,l_res=224,h_res=256
  keras-vision train recipes/transfer.py:runlocal,init=tests/fixtures/vit_tok_augreg_layout.npz \
      --workdir runs/transfer_local
"""

from keras_vision.config import ConfigDict
from keras_vision.config import parse_arg
from keras_vision.config import recipe_helpers as ru

# The AugReg "recommended" i21k checkpoints (big_vision vit.VANITY_NAMES
# "howto-i21k-*", under gs://vit_models/augreg/): variant -> file name.
AUGREG_I21K = {
    "Ti/16": "Ti_16-i21k-300ep-lr_0.001-aug_none-wd_0.03-do_0.0-sd_0.0.npz",
    "S/32": "S_32-i21k-300ep-lr_0.001-aug_none-wd_0.1-do_0.0-sd_0.0.npz",
    "S/16": "S_16-i21k-300ep-lr_0.001-aug_light1-wd_0.03-do_0.0-sd_0.0.npz",
    "B/32": "B_32-i21k-300ep-lr_0.001-aug_light1-wd_0.1-do_0.0-sd_0.0.npz",
    "B/16": "B_16-i21k-300ep-lr_0.001-aug_medium1-wd_0.1-do_0.0-sd_0.0.npz",
    "B/8": "B_8-i21k-300ep-lr_0.001-aug_medium2-wd_0.1-do_0.0-sd_0.0.npz",
    "L/16": "L_16-i21k-300ep-lr_0.001-aug_strong1-wd_0.1-do_0.0-sd_0.0.npz",
}

# model argument -> (model_name, big_vision model kwargs, default checkpoint file).
MODELS = {f"vit-i21k-augreg-{v.lower()}": ("vit", dict(variant=v, pool_type="tok"), f)
          for v, f in AUGREG_I21K.items()}
MODELS["vit-s16"] = ("vit", dict(variant="S/16", pool_type="gap", posemb="sincos2d", rep_size=True),
                     "vit_s16_i1k_300ep.npz")  # gs://big_vision/vit_s16_i1k_300ep.npz
MODELS["bit-m-r50x1"] = ("bit_paper", dict(depth=50, width=1), "BiT-M-R50x1.npz")  # BiT: not ported yet

# dataset -> (TFDS name, train, minival, test, classes, steps, warmup steps).
DATASETS = {
    "cifar10": ("cifar10", "train[:98%]", "train[98%:]", "test", 10, 10_000, 500),
    "cifar100": ("cifar100", "train[:98%]", "train[98%:]", "test", 100, 10_000, 500),
    "imagenet2012": ("imagenet2012", "train[:99%]", "train[99%:]", "validation", 1000, 20_000, 500),
    "oxford_iiit_pet": ("oxford_iiit_pet", "train[:90%]", "train[90%:]", "test", 37, 500, 100),
    "oxford_flowers102": ("oxford_flowers102", "train[:90%]", "train[90%:]", "test", 102, 500, 100),
    # A folder of class subfolders: 90 % / 10 % fixed random split, the 10 % also as "test".
    "folder": ("imagefolder", "all[:90%]", "all[90%:]", "all[90%:]", None, 500, 100),
}
CROPS = {
    "inception_crop": "decode|inception_crop({l_res})",
    "resmall_crop": "decode|resize_small({h_res})|random_crop({l_res})",
    "resize_crop": "decode|resize({h_res})|random_crop({l_res})",
}


def get_config(arg=None):
    """Fine-tuning config; `runlocal` fine-tunes on shapes."""
    a = parse_arg(arg, model="vit-i21k-augreg-b/32", dataset="cifar10", crop="resmall_crop", h_res=448, l_res=384,
                  batch_size=512, init="", data_dir="", num_classes=0, runlocal=False)
    for name, value, known in (("model", a.model, MODELS), ("dataset", a.dataset, DATASETS),
                               ("crop", a.crop, CROPS)):
        if value not in known:
            raise ValueError(f"Unknown {name} {value!r}; expected one of {list(known)}.")
    model_name, model, init = MODELS[a.model]
    tfds_name, train, minival, test, num_classes, steps, warmup = DATASETS[a.dataset]
    if a.runlocal:
        tfds_name, train, minival, test, num_classes, steps, warmup = "shapes", "train", "val[:64]", "test[:64]", 10, 20, 2
        a.h_res, a.l_res = 36, 32
    elif num_classes is None:
        if not (a.num_classes and a.data_dir):
            raise ValueError("dataset=folder needs data_dir=<root with one subfolder per class> and num_classes=<N>.")
        num_classes = a.num_classes

    c = ConfigDict()
    c.seed = 0
    c.num_classes = num_classes
    c.total_steps = steps
    c.loss = "softmax_xent"

    def data(split):
        if a.runlocal:
            return ru.shapes_data(split, image_size=a.l_res)
        return dict(name=tfds_name, split=split, **({"data_dir": a.data_dir} if a.data_dir else {}))

    labels = ru.labels_pp(num_classes)
    c.input = dict(
        data=data(train),
        batch_size=a.batch_size,
        shuffle_buffer_size=50_000,
        pp=ru.pp_join(CROPS[a.crop].format(h_res=a.h_res, l_res=a.l_res), "flip_lr", labels),
    )
    c.log_training_steps = 10
    c.ckpt_steps = 1000

    c.model_name = model_name
    c.model = dict(model, num_classes=num_classes)
    if model_name == "vit":
        c.model.image_size = a.l_res
    c.model_init = a.init or init
    # A new task: keep the freshly (zero-)initialised head instead of the checkpoint's.
    c.model_load = dict(dont_load=["head/kernel", "head/bias"])

    c.optax_name = "big_vision.momentum_hp"
    c.grad_clip_norm = 1.0
    c.lr = 0.01
    c.wd = None
    c.schedule = dict(warmup_steps=warmup, decay_type="cosine")
    c.mixup = dict(p=0.0)

    pp_image = f"decode|resize_small({a.h_res})|central_crop({a.l_res})"
    pp_eval = ru.pp_join(pp_image, labels)
    c.evals = dict(val=ru.classification_eval(data(minival), pp_eval, log_steps=100),
                   test=ru.classification_eval(data(test), pp_eval, log_steps=100))
    if a.dataset == "imagenet2012" and not a.runlocal:
        # big_vision's naming for ImageNet: minival = held-out train, val = the official
        # validation set, plus ReaL and v2 at the same resolution.
        ims = ru.imagenet_evals(pp_image, log_steps=100)
        c.evals = dict(minival=c.evals.val, val=c.evals.test, real=ims["real"], v2=ims["v2"])
        if a.data_dir:
            c.evals.real.data.data_dir = c.evals.v2.data.data_dir = a.data_dir

    if a.runlocal:
        if not a.init:  # nothing to transfer from: a tiny random ViT of the same kind
            c.model.variant = "mu/8"
            c.model_init = None
        elif ".npz" in a.init:  # sizes (width, depth, patch, pre-logits) come from the checkpoint
            c.model.pop("variant", None)
        else:  # a backbone preset fills a model built from config.model: match its size with --set
            c.model.variant = "mu/8"
        ru.runlocal(c, steps=20, batch_size=8, shuffle_buffer_size=64, log_steps=5, ckpt_steps=10,
                    eval_log_steps=10)
    return c
