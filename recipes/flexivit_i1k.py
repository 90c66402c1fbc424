r"""FlexiViT on ImageNet-1k: distil a DeiT III ViT into a FlexiViT (random patch size per step).

Port of big_vision `configs/proj/flexivit/i1k_deit3_distill.py` ("FlexiViT: One Model
for All Patch Sizes", Beyer et al., CVPR 2023, https://arxiv.org/abs/2212.08013, Sec. 4;
the released "FlexiViT-{S,B,L} i1k" checkpoints come from this recipe, 1200 epochs).

Student: `proj.flexi.vit` of size `variant` (S / B / L), [cls] pooling, kernel buffer
16x16, 7x7 position embedding, 240 px, initialised from the DeiT III checkpoint of the
same size (`deit3_{S,B,L}_384_1k`, converted: the kernel is PI-resized and the posemb
resampled to 7x7 at load). Each step draws seqhw from (5, 6, 8, 10, 12, 15, 16, 20,
24, 30) (patch 48 ... 8 at 240 px). Teacher ("prof"): the same DeiT III ViT at 384 px
on the same crop (`copy("image", "prof")` before resizing), frozen. Loss: KL(teacher ||
student) at temperature 1 (`distance="kl"`). Trainer: `keras_vision.trainers.FlexiTrainer`
(`config.trainer = "flexi"`, `config.teachers = ["prof"]`).

Hyper-parameters (as big_vision): batch 1024, 90 epochs (the released models: 300,
600, 1200), scale_by_adam (bf16 first moment), lr 1e-4, wd 1e-5, 5k warmup + cosine,
grad clip 1, mixup p=1 (both models see the mixed batch; big_vision's stale `n=2`
argument is dropped), inception crop + flip. Eval at every seqhw:
resize(274)|central_crop(240).

Expected: the paper's Fig. 2 - one FlexiViT-S/B/L matches or beats DeiT III at its
native patch size and degrades gracefully down to patch 48, where a plain ViT
collapses. Third-party evaluation (timm, released 1200-epoch checkpoints at patch 16,
240 px) gives about 82.6 / 84.7 / 85.6 % top-1 for S / B / L; not reproduced here
(unverified). Needs the DeiT III checkpoints (`prof_init`/`model_init`, set with
`--set`) and ImageNet as TFDS.

Commands:
  keras-vision train recipes/flexivit_i1k.py:variant=S --workdir runs/flexivit_s_i1k \
      --set model_init=deit3_S_384_1k.npz --set prof_init=deit3_S_384_1k.npz
  # CPU smoke run on the embedded shapes data (random mu teacher, 32/48 px):
  keras-vision train recipes/flexivit_i1k.py:runlocal --workdir runs/flexivit_i1k_local
"""

from keras_vision.config import ConfigDict
from keras_vision.config import parse_arg

SEQHW = (5, 6, 8, 10, 12, 15, 16, 20, 24, 30)


def get_config(arg=None):
    """FlexiViT i1k distillation config; `runlocal` shrinks it to the shapes data."""
    a = parse_arg(arg, variant="B", res=240, epochs=90, runlocal=False)
    c = ConfigDict()
    c.seed = 0
    c.trainer = "flexi"
    if a.runlocal:
        return _runlocal(c)

    c.num_classes = 1000
    c.total_epochs = a.epochs
    pp_label = f"|onehot({c.num_classes}, key='label', key_result='labels')|keep('image', 'prof', 'labels')"
    c.input = dict(
        data=dict(name="imagenet2012", split="train[:99%]"),
        batch_size=1024,
        shuffle_buffer_size=250_000,
        pp="decode|inception_crop|flip_lr|copy('image', 'prof')"
        f"|resize({a.res})|value_range(-1, 1)|resize(384, key='prof')|value_range(-1, 1, key='prof')" + pp_label,
    )
    c.log_training_steps = 50
    c.ckpt_steps = 1000

    # Student.
    c.model_name = "proj.flexi.vit"
    c.model = dict(
        variant=a.variant, pool_type="tok", patch_size=(16, 16), posemb_size=(7, 7),
        num_classes=c.num_classes, image_size=a.res,
    )
    c.model_init = None  # deit3_{variant}_384_1k converted checkpoint (.npz)
    c.flexi = dict(seqhw=dict(v=SEQHW, p=(1,) * len(SEQHW)))

    # Teacher, big_vision's distill layout.
    c.teachers = ["prof"]
    c.prof_name = "vit"
    c.prof = dict(variant=f"{a.variant}/16", pool_type="tok", num_classes=c.num_classes, image_size=384)
    c.prof_init = None  # the same deit3_{variant}_384_1k checkpoint
    c.distance = "kl"
    c.distance_kw = dict(t=1.0)
    c.mixup = dict(p=1.0, keys=("image", "prof", "labels"))  # one coefficient for both models

    c.optax_name = "scale_by_adam"
    c.optax = dict(mu_dtype="bfloat16")
    c.grad_clip_norm = 1.0
    c.lr = 1e-4
    c.wd = 1e-5
    c.schedule = dict(warmup_steps=5000, decay_type="cosine")

    pp_eval = f"decode|resize({a.res // 7 * 8})|central_crop({a.res})|value_range(-1, 1)"
    label = f"|onehot({c.num_classes}, key='label', key_result='labels')|keep('image', 'labels')"
    c.evals = {}
    for s in SEQHW:
        for name, data in (("minival", dict(name="imagenet2012", split="train[99%:]")),
                           ("val", dict(name="imagenet2012", split="validation"))):
            c.evals[f"student_{name}_{s:02d}"] = dict(
                type="classification",
                data=data,
                pp_fn=pp_eval + label,
                loss_name="softmax_xent",
                log_percent=0.05,
                pred="predict_patch_size",
                pred_kw=dict(patch_size=a.res // s),
            )
    return c


def _runlocal(c):
    """Seconds on a CPU: mu FlexiViT student (32 px, patch 16/8/4), mu ViT teacher at 48 px."""
    seqhw = (2, 4, 8)
    res = 32
    c.num_classes = 10
    c.total_steps = 40
    label = f"|onehot({c.num_classes}, key='label', key_result='labels')"
    c.input = dict(
        data=dict(name="shapes", split="train"),
        batch_size=16,
        shuffle_buffer_size=256,
        pp=f"copy('image', 'prof')|resize({res})|value_range(-1, 1)|resize(48, key='prof')"
        f"|value_range(-1, 1, key='prof')" + label + "|keep('image', 'prof', 'labels')",
    )
    c.log_training_steps = 20
    c.ckpt_steps = 40
    c.model_name = "proj.flexi.vit"
    c.model = dict(variant="mu", pool_type="tok", patch_size=(8, 8), posemb_size=(4, 4),
                   num_classes=c.num_classes, image_size=res)
    c.flexi = dict(seqhw=dict(v=seqhw, p=(1,) * len(seqhw)))
    c.teachers = ["prof"]
    c.prof_name = "vit"
    c.prof = dict(variant="mu/16", pool_type="tok", num_classes=c.num_classes, image_size=48, head_zeroinit=False)
    c.prof_init = None
    c.distance = "kl"
    c.distance_kw = dict(t=1.0)
    c.mixup = dict(p=1.0, keys=("image", "prof", "labels"))  # one coefficient for both models
    c.optax_name = "scale_by_adam"
    c.grad_clip_norm = 1.0
    c.lr = 1e-3
    c.wd = 1e-5
    c.schedule = dict(warmup_steps=5, decay_type="cosine")
    c.evals = {}
    for s in seqhw:
        c.evals[f"student_val_{s:02d}"] = dict(
            type="classification",
            data=dict(name="shapes", split="val"),
            pp_fn=f"resize({res})|value_range(-1, 1)" + label + "|keep('image', 'labels')",
            loss_name="softmax_xent",
            log_steps=40,
            cache="final_data",
            pred="predict_patch_size",
            pred_kw=dict(patch_size=res // s),
        )
    return c
