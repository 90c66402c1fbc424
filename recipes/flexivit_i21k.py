r"""FlexiViT-B pre-trained on ImageNet-21k with a random patch size per step.

Port of big_vision `configs/proj/flexivit/i21k_sup.py` ("FlexiViT: One Model for All
Patch Sizes", Beyer et al., CVPR 2023, https://arxiv.org/abs/2212.08013).

One set of weights: a patch-embedding kernel stored at 8x8 and a 7x7 position
embedding; every step picks the token grid `seqhw` uniformly from
(5, 6, 8, 10, 12, 15, 16, 20, 24, 30) at 240 px, i.e. patch sizes
48, 40, 30, 24, 20, 16, 15, 12, 10, 8, PI-resizes the kernel to it and bilinearly
resizes the position embedding. 240 px is divisible by all of them. The trainer is
`keras_vision.trainers.FlexiTrainer` (`config.trainer = "flexi"`): one weight-sharing
model per patch size, each compiled once, the size of step s drawn from
`np.random.default_rng((seed, s))`.

Hyper-parameters (as big_vision): ViT-B, [cls] token pooling, learned posemb,
sigmoid_xent with head bias -10, batch 4096, 90 epochs (300 / 1000 for the released
longer runs), scale_by_adam (bf16 first moment), lr 1e-3, wd 1e-4 (decoupled, x
schedule), 10k warmup + cosine, grad clip 1, mixup p=0.2,
inception crop + flip + RandAugment(2, 10). Eval at every seqhw: resize_small(274),
central_crop(240).

Expected (paper, and big_vision README; not reproduced here): the released
FlexiViT-B i21k 300ep checkpoint ("FlexiViT-B i21k 300ep") matches or beats the
apples-to-apples ViT-B/16 and ViT-B/30 i21k baselines (released next to it) at their
own patch sizes, and unlike them keeps working at every patch size from 8 to 48;
see the appendix tables of the paper for per-patch-size ImageNet-1k numbers (the i21k
model is evaluated on ImageNet-1k through a label map). Those numbers are not
reproduced in this repository.

Commands:
  keras-vision train recipes/flexivit_i21k.py --workdir runs/flexivit_i21k
  keras-vision train recipes/flexivit_i21k.py:variant=S,epochs=300 --workdir ...
  # CPU smoke run on the embedded shapes data (mu-size model, 32 px, patch 16/8/4):
  keras-vision train recipes/flexivit_i21k.py:runlocal --workdir runs/flexivit_local
"""

from keras_vision.config import ConfigDict
from keras_vision.config import parse_arg

# Token grids (tokens per side) big_vision samples from, and their weights.
SEQHW = (5, 6, 8, 10, 12, 15, 16, 20, 24, 30)


def get_config(arg=None):
    """FlexiViT i21k pre-training config; `runlocal` shrinks it to the shapes data."""
    a = parse_arg(arg, variant="B", res=240, epochs=90, runlocal=False)
    c = ConfigDict()
    c.seed = 0
    c.trainer = "flexi"

    if a.runlocal:
        return _runlocal(c, a)

    c.num_classes = 21843
    c.total_epochs = a.epochs
    c.input = dict(
        data=dict(name="imagenet21k", split="full[51200:]"),
        batch_size=4096,
        shuffle_buffer_size=250_000,
        pp=f"decode_jpeg_and_inception_crop({a.res})|flip_lr|randaug(2,10)"
        f"|value_range(-1, 1)|onehot({c.num_classes})|keep('image', 'labels')",
    )
    c.log_training_steps = 50
    c.ckpt_steps = 1000

    c.model_name = "proj.flexi.vit"
    c.model = dict(
        variant=a.variant,
        pool_type="tok",
        posemb="learn",
        patch_size=(8, 8),  # where the kernel is stored; big_vision also tried (32, 32)
        posemb_size=(7, 7),
        num_classes=c.num_classes,
        init_head_bias=-10.0,
        image_size=a.res,
    )
    c.flexi = dict(seqhw=dict(v=SEQHW, p=(1,) * len(SEQHW)))

    c.loss = "sigmoid_xent"
    c.optax_name = "scale_by_adam"
    c.optax = dict(mu_dtype="bfloat16")
    c.grad_clip_norm = 1.0
    c.lr = 1e-3
    c.wd = 1e-4
    c.schedule = dict(warmup_steps=10_000, decay_type="cosine")
    c.mixup = dict(p=0.2)

    pp_eval = f"decode|resize_small({a.res // 7 * 8})|central_crop({a.res})|value_range(-1, 1)"
    pp_label = f"|onehot({c.num_classes})|keep('image', 'labels')"
    c.evals = {}
    for s in SEQHW:
        for name, split in (("test", "full[:25600]"), ("val", "full[25600:51200]")):
            c.evals[f"{name}{s:02d}"] = dict(
                type="classification",
                data=dict(name="imagenet21k", split=split),
                pp_fn=pp_eval + pp_label,
                loss_name=c.loss,
                log_steps=5000,
                pred="predict_patch_size",
                pred_kw=dict(patch_size=a.res // s),
            )
    return c


def _runlocal(c, a):
    """Seconds on a CPU: mu-size FlexiViT on 32 px shapes, patch sizes 16, 8, 4."""
    seqhw = (2, 4, 8)
    res = 32
    c.num_classes = 10
    c.total_steps = 60
    c.input = dict(
        data=dict(name="shapes", split="train"),
        batch_size=16,
        shuffle_buffer_size=256,
        pp=f"resize({res})|value_range(-1, 1)|onehot({c.num_classes})|keep('image', 'labels')",
    )
    c.log_training_steps = 20
    c.ckpt_steps = 60
    c.model_name = "proj.flexi.vit"
    c.model = dict(
        variant="mu",
        pool_type="tok",
        posemb="learn",
        patch_size=(8, 8),
        posemb_size=(4, 4),
        num_classes=c.num_classes,
        init_head_bias=-2.3,
        image_size=res,
    )
    c.flexi = dict(seqhw=dict(v=seqhw, p=(1,) * len(seqhw)))
    c.loss = "sigmoid_xent"
    c.optax_name = "scale_by_adam"
    c.grad_clip_norm = 1.0
    c.lr = 1e-3
    c.wd = 1e-4
    c.schedule = dict(warmup_steps=10, decay_type="cosine")
    c.mixup = dict(p=0.2)
    c.evals = {}
    for s in seqhw:
        c.evals[f"val{s:02d}"] = dict(
            type="classification",
            data=dict(name="shapes", split="val"),
            pp_fn=f"resize({res})|value_range(-1, 1)|onehot({c.num_classes})|keep('image', 'labels')",
            loss_name=c.loss,
            log_steps=60,
            cache="final_data",
            pred="predict_patch_size",
            pred_kw=dict(patch_size=res // s),
        )
    return c
