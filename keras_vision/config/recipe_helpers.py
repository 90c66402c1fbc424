"""Building blocks shared by the recipes in `recipes/` (configuration only, no training code).

A recipe stays a readable list of big_vision keys and numbers; what several recipes
write the same way lives here: pp string pieces, evaluator dicts, the AugReg
augmentation presets, the shapes-world stand-ins that `runlocal` modes swap in, and
the shrinking every `runlocal` mode applies. They are plain functions (recipes are
configuration: nothing here is a Keras serializable).

Example:
>>> from keras_vision.config import recipe_helpers as ru
>>> ru.pp_join("decode", ru.augreg_aug("medium2").randaug, ru.labels_pp(1000))
"decode|randaug(2, 15)|value_range(-1, 1)|onehot(1000, key='label', key_result='labels')|keep('image', 'labels')"

Papers: the presets are those of "How to train your ViT? Data, Augmentation, and
Regularization in Vision Transformers" (Steiner et al., 2021, arXiv:2106.10270).
"""

from keras_vision.config.config_dict import ConfigDict

__all__ = [
    "AUGREG_PRESETS",
    "SHAPES_QUESTION_TYPES",
    "SHAPES_SPM",
    "adam",
    "augreg_aug",
    "augreg_preset",
    "classification_eval",
    "classification_runlocal",
    "fewshot_eval",
    "imagenet_evals",
    "image_text_pp",
    "labels_pp",
    "pp_join",
    "runlocal",
    "shapes_data",
    "shapes_captions_runlocal",
    "shapes_image_text_evals",
    "shapes_image_text_runlocal",
    "shapes_retrieval_eval",
    "shapes_sentencepiece",
    "shapes_vlm_evals",
    "shapes_vlm_runlocal",
    "shapes_vlm_task_pp",
    "shapes_vlm_vocabulary",
    "shapes_vlm_world",
    "shapes_zeroshot_eval",
    "tokenize_pp",
]

# AugReg augmentation presets (Steiner et al. 2021, Fig. 4; big_vision's
# configs/vit_i1k.py and vit_i21k.py): name -> ((RandAugment layers, magnitude) or
# None, mixup p). "light1" runs RandAugment at magnitude 0, which still applies the
# magnitude-free ops (AutoContrast, Equalize, Invert, ...): it is not a no-op.
AUGREG_PRESETS = {
    "none": (None, 0.0),
    "light1": ((2, 0), 0.0),
    "light2": ((2, 10), 0.2),
    "medium1": ((2, 15), 0.2),
    "medium2": ((2, 15), 0.5),
    "strong1": ((2, 20), 0.5),
    "strong2": ((2, 20), 0.8),
}

# Where image-text runlocal modes keep the SentencePiece model they train from shapes captions.
SHAPES_SPM = "{workdir}/shapes_spm.model"


def augreg_aug(name):
    """The AugReg preset `name` as `ConfigDict(randaug=<pp op or "">, mixup=dict(p=...))`.

    Args:
        name: one of `AUGREG_PRESETS` ("none", "light1", ..., "strong2").

    Example:
    >>> aug = augreg_aug("strong2")
    >>> aug.randaug, aug.mixup.p
    ('randaug(2, 20)', 0.8)
    """
    if name not in AUGREG_PRESETS:
        raise ValueError(f"Unknown AugReg augmentation preset {name!r}; expected one of {list(AUGREG_PRESETS)}.")
    randaug, p = AUGREG_PRESETS[name]
    op = f"randaug({randaug[0]}, {randaug[1]})" if randaug else ""
    return ConfigDict(randaug=op, mixup=dict(p=p))


def augreg_preset(aug, variant, defaults):
    """`(name, augreg_aug(name))` for an `aug=` argument, or the variant's default preset.

    Args:
        aug: a preset name, or "" for the default of `variant`.
        variant: the ViT variant ("B/16", ...).
        defaults: {variant: preset name} (the recipe's table, after the paper's Fig. 4).
    """
    name = aug or defaults.get(variant)
    if name is None:
        raise ValueError(f"No default aug preset for variant {variant!r} (known: {sorted(defaults)}); "
                         f"pass aug=<one of {list(AUGREG_PRESETS)}>.")
    return name, augreg_aug(name)


def adam(c, lr, wd, warmup_steps, decay_type="cosine", grad_clip_norm=1.0, mu_dtype="bfloat16"):
    """Sets big_vision's usual optimizer keys on `c`: `scale_by_adam`, lr, decoupled wd, warmup + decay, clip.

    `mu_dtype="bfloat16"` stores Adam's first moment in bfloat16 (big_vision's memory saving);
    None keeps float32. Returns `c`.
    """
    c.optax_name = "scale_by_adam"
    c.optax = dict(mu_dtype=mu_dtype) if mu_dtype else dict()
    c.grad_clip_norm = grad_clip_norm
    c.lr = lr
    c.wd = wd
    c.schedule = dict(warmup_steps=warmup_steps, decay_type=decay_type)
    return c


def pp_join(*ops):
    """Joins pp ops / pp strings with "|", skipping empty ones (e.g. the "none" preset's randaug)."""
    return "|".join(op for op in ops if op)


def labels_pp(num_classes, key="label", value_range=True):
    """`value_range(-1, 1)|onehot(N, key=<key>, key_result='labels')|keep('image', 'labels')`."""
    return pp_join(
        "value_range(-1, 1)" if value_range else "",
        f"onehot({num_classes}, key='{key}', key_result='labels')",
        "keep('image', 'labels')",
    )


def shapes_data(split, image_size=32, **world):
    """The embedded shapes world as a data config (the `runlocal` stand-in for TFDS data)."""
    return dict(name="shapes", split=split, image_size=image_size, **world)


def classification_eval(data, pp_fn, loss_name="softmax_xent", log_steps=1000, **kwargs):
    """A big_vision `classification` evaluator dict (prec@1 and loss)."""
    return dict(type="classification", data=dict(data), pp_fn=pp_fn, loss_name=loss_name, log_steps=log_steps,
                **kwargs)


def imagenet_evals(pp_image, loss_name="softmax_xent", log_steps=2500, num_classes=1000, **kwargs):
    """big_vision's ImageNet-1k classification evals: train[:2%], minival, val, v2, ReaL.

    `minival` is the held-out `train[99%:]` (the recipes train on `train[:99%]`),
    `val` the official validation set, `v2` ImageNet-v2 (`imagenet_v2` test) and
    `real` the ReaL re-labelled validation set (multi-hot `real_label`; images without
    a ReaL label are masked by the evaluator).

    Args:
        pp_image: image pp before the labels, e.g. "decode|resize_small(256)|central_crop(224)".
        loss_name, log_steps, **kwargs: evaluator arguments shared by the five.
    """

    def ev(name, split, key="label"):
        return classification_eval(dict(name=name, split=split), pp_join(pp_image, labels_pp(num_classes, key)),
                                   loss_name, log_steps, **kwargs)

    return dict(
        train=ev("imagenet2012", "train[:2%]"),
        minival=ev("imagenet2012", "train[99%:]"),
        val=ev("imagenet2012", "validation"),
        v2=ev("imagenet_v2", "test"),
        real=ev("imagenet2012_real", "validation", key="real_label"),
    )


def fewshot_eval(runlocal=False, res=224, resize=256, log_steps=25_000, image_size=32, **kwargs):
    """A `fewshot_lsr` evaluator dict: big_vision's usual linear-probe datasets, or shapes.

    Full mode: ridge-regression probes of the frozen `pre_logits` on Caltech-101, Cars,
    CIFAR-100, DTD, Pets and UC Merced (TFDS names and splits as big_vision's
    `common_fewshot.get_fewshot_lsr`), 1/5/10/25 shots x 3 seeds, l2 2^10, images
    resized to `resize` then centre-cropped to `res`. `runlocal`: shapes (100 train
    images, 64 val), 1/5 shots, one seed.
    """
    if runlocal:
        pp = "value_range(-1, 1)|keep('image', 'label')"
        out = dict(type="fewshot_lsr", datasets={"shapes": (dict(name="shapes", image_size=image_size),
                                                            "train[:100]", "val[:64]")},
                   shots=(1, 5), num_seeds=1, display_first=[("shapes", 5)])
    else:
        pp = f"decode|resize({resize})|central_crop({res})|value_range(-1, 1)|keep('image', 'label')"
        out = dict(type="fewshot_lsr", datasets={
            "caltech": ("caltech101", "train", "test"),
            "cars": ("cars196:2.1.0", "train", "test"),
            "cifar100": ("cifar100", "train", "test"),
            "dtd": ("dtd", "train", "test"),
            "pets": ("oxford_iiit_pet", "train", "test"),
            "uc_merced": ("uc_merced", "train[:1000]", "train[1000:]"),
        }, shots=(1, 5, 10, 25), num_seeds=3, display_first=[("imagenet", 10)])
    out.update(pp_train=pp, pp_eval=pp, l2_reg=2.0**10, representation_layer="pre_logits", prefix="",
               log_steps=log_steps)
    out.update(kwargs)
    return out


def classification_runlocal(c, pp_eval, image_size=32, variant="mu/8", steps=20):
    """`runlocal` of an ImageNet classification recipe: the same pp and optimizer on shapes.

    Trains a `variant` ViT (default "mu/8": 1 layer, width 32) at `image_size` on the
    shapes train split for `steps` steps of batch 8, evaluating prec@1 / loss on 64 val
    images (`pp_eval`, after 10 steps and at the end) and a 1/5-shot linear probe.
    The recipe builds its pp strings for `image_size` and 10 classes itself. Returns `c`.
    """
    c.input.data = shapes_data("train", image_size)
    c.model.update(variant=variant, image_size=image_size)
    c.evals = dict(
        val=classification_eval(shapes_data("val[:64]", image_size), pp_eval, c.loss, log_steps=10),
        fewshot=fewshot_eval(runlocal=True, log_steps=steps, image_size=image_size),
    )
    return runlocal(c, steps=steps, batch_size=8, shuffle_buffer_size=64, log_steps=5, ckpt_steps=10)


def runlocal(c, steps=20, batch_size=8, shuffle_buffer_size=64, log_steps=5, ckpt_steps=10, warmup_steps=2,
             eval_log_steps=None, eval_batch_size=None):
    """Shrinks a recipe config in place to a seconds-long CPU run; returns it.

    Sets `total_steps` (dropping `total_epochs`), the batch and shuffle buffer sizes,
    the log / checkpoint intervals and the warmup of every schedule (a dict or
    big_vision's list of `(regex, schedule | None)`), and, when given, every
    evaluator's `log_steps` / `batch_size`. Data, model sizes and evaluator data stay
    the recipe's business.
    """
    c.pop("total_epochs", None)
    c.total_steps = steps
    c.input.batch_size = batch_size
    c.input.shuffle_buffer_size = shuffle_buffer_size
    c.log_training_steps = log_steps
    c.ckpt_steps = ckpt_steps
    schedule = c.get("schedule")
    if isinstance(schedule, dict):
        schedule.warmup_steps = warmup_steps
    elif isinstance(schedule, (list, tuple)):
        for _, sched in schedule:
            if isinstance(sched, dict):
                sched.warmup_steps = warmup_steps
    for ev in (c.get("evals") or {}).values():
        if eval_log_steps is not None:
            ev.log_steps = eval_log_steps
        if eval_batch_size is not None:
            ev.batch_size = eval_batch_size
    return c


# --- image-text ------------------------------------------------------------------------


def tokenize_pp(max_len, model=SHAPES_SPM, inkey="texts", outkey="labels"):
    """SigLIP-style text pp: SentencePiece `model`, `max_len` tokens, sticky EOS, pad = EOS (1)."""
    return (f"tokenize(max_len={max_len}, model='{model}', eos='sticky', pad_value=1, "
            f"inkey='{inkey}', outkey='{outkey}')")


def image_text_pp(tok, image_ops="value_range(-1, 1)"):
    """Training pp of an image-text recipe: image ops, the text tokenizer, keep image + labels."""
    return pp_join(image_ops, tok, "keep('image', 'labels')")


def shapes_sentencepiece(split="train[:3000]", vocab_size=160, path=SHAPES_SPM, **data_kw):
    """`config.sentencepiece`: a lower-cased vocabulary trained from shapes captions at run start."""
    return dict(path=path, data=dict(name="shapes", split=split, **data_kw), texts_key="texts",
                vocab_size=vocab_size, lower=True)


def shapes_zeroshot_eval(data, pp_txt, log_steps, batch_size, type="zeroshot", pp_img="value_range(-1, 1)"):
    """Zero-shot classification of shapes (class names x the shapes prompt templates)."""
    return dict(type=type, data=dict(data), pp_img=pp_img, pp_txt=pp_txt, class_names="shapes",
                prompt_templates="shapes", log_steps=log_steps, batch_size=batch_size)


def shapes_retrieval_eval(data, pp_txt, log_steps, batch_size, ks=None, pp_img="value_range(-1, 1)"):
    """Image <-> caption retrieval on shapes (Recall@k; the evaluator's default ks unless given)."""
    out = dict(type="retrieval", data=dict(data), pp_img=pp_img, pp_txt=pp_txt, log_steps=log_steps,
               batch_size=batch_size)
    if ks is not None:
        out["ks"] = tuple(ks)
    return out


def shapes_image_text_evals(data, pp_txt, log_steps, batch_size=100, ks=(1, 5, 10)):
    """Zero-shot classification and image <-> caption retrieval on shapes scenes `data`."""
    return dict(
        zeroshot=shapes_zeroshot_eval(data, pp_txt, log_steps=log_steps, batch_size=batch_size),
        retrieval=shapes_retrieval_eval(data, pp_txt, log_steps=log_steps, batch_size=batch_size, ks=ks),
    )


def shapes_captions_runlocal(c, **world):
    """`runlocal` of a recipe that already trains on shapes captions: fewer scenes, 10 steps.

    The vocabulary learns from 200 captions, training reads 256 scenes, evaluators 32
    val scenes (of the same `world`, e.g. image_size) after 10 steps, batch 16. Tower
    sizes stay the recipe's business. Returns `c`.
    """
    c.sentencepiece.data.split = "train[:200]"
    c.input.data.split = "train[:256]"
    runlocal(c, steps=10, eval_log_steps=10, eval_batch_size=16)
    for ev in c.evals.values():
        ev.data = dict(name="shapes", split="val[:32]", **world)
    return c


def shapes_image_text_runlocal(c, max_len=16, vocab_size=128):
    """The `runlocal` stand-in of web-scale image-text recipes: shapes captions, a shapes vocabulary.

    Swaps the training data for 256 shapes scenes (no decode / resize: 32 px already),
    trains a `vocab_size` SentencePiece model from 200 of their captions at run start
    and shrinks the run (`runlocal`). Returns the shapes tokenizer pp for the evaluators.
    """
    tok = tokenize_pp(max_len)
    c.sentencepiece = shapes_sentencepiece("train[:200]", vocab_size=vocab_size)
    c.input.data = dict(name="shapes", split="train[:256]")
    c.input.pp = image_text_pp(tok)
    runlocal(c, steps=10, batch_size=8, shuffle_buffer_size=64, log_steps=5, ckpt_steps=10, warmup_steps=2)
    return tok


# --- image-conditioned language models (PaliGemma, PaLI) on the shapes world ------------

# The shapes world's question kinds, in the order its questions cycle through them.
SHAPES_QUESTION_TYPES = ("shape", "count", "color", "position", "total", "yes_no")


def shapes_vlm_world(image_size=32):
    """Shapes data kwargs with all 6 question kinds and the text fields a VLM recipe reads."""
    return dict(image_size=image_size, num_questions=len(SHAPES_QUESTION_TYPES),
                keys=["image", "image/id", "texts", "questions", "answers"])


def shapes_vlm_vocabulary(world, vocab_size=256, split="train[:3000]", path=SHAPES_SPM):
    """`config.sentencepiece` from captions, questions and answers: pad 0, EOS 1, unk 2, BOS 3."""
    return dict(path=path, data=dict(name="shapes", split=split, **world),
                texts_key=["texts", "questions", "answers"], vocab_size=vocab_size, lower=True, bos_id=3)


def shapes_vlm_task_pp(image_pp):
    """Training pp start: the image, then one of the 5 captions ("caption en") or 6 questions
    ("answer en <question>") at random as "prefix" / "suffix"."""
    return pp_join(
        image_pp,
        "task_prompts([('caption en', 'texts'), ('answer en {}', 'answers', 'questions')])",
        "choice(inkey=['prefixes', 'suffixes'], outkey=['prefix', 'suffix'])",
    )


def shapes_vlm_evals(world, image_pp, prompt_pp, log_steps, prompt_keys=None, tokenizer=SHAPES_SPM):
    """`vqa` (300 val scenes x 6 questions, accuracy per kind) and `caption` (CIDEr/BLEU on 200) evaluators.

    `prompt_pp(keep)` turns "prefix" into the model's prompt batch, keeping `keep`.
    """
    vqa_pp = pp_join(image_pp, 'strfmt("answer en {questions}", outkey="prefix")',
                     'copy(inkey="answers", outkey="answer")', prompt_pp(("answer", "question_index", "questions")))
    caption_pp = pp_join(image_pp, 'strfmt("caption en", outkey="prefix")', prompt_pp(("texts",)))
    return ConfigDict(dict(
        vqa=dict(type="vqa", data=dict(name="shapes", split="val[:300]", **world), pp_fn=vqa_pp, tokenizer=tokenizer,
                 explode=["questions", "answers"], type_names=list(SHAPES_QUESTION_TYPES), question_key="questions",
                 max_decode_len=4, batch_size=200, log_steps=log_steps, outfile="{workdir}/vqa.json",
                 picture="{workdir}/vqa.png", prompt_keys=prompt_keys),
        caption=dict(type="caption", data=dict(name="shapes", split="val[:200]", **world), pp_fn=caption_pp,
                     tokenizer=tokenizer, captions_key="texts", max_decode_len=24, batch_size=100,
                     log_steps=log_steps, outfile="{workdir}/captions.json", picture="{workdir}/captions.png",
                     prompt_keys=prompt_keys),
    ))


def shapes_vlm_runlocal(c):
    """`runlocal` of the shapes VLM recipes: 200 captions for the vocabulary, 256 scenes, 10 steps."""
    c.sentencepiece.data.split = "train[:200]"
    c.input.data.split = "train[:256]"
    runlocal(c, steps=10, eval_log_steps=10, eval_batch_size=16)
    c.evals.vqa.data.split = "val[:8]"
    c.evals.caption.data.split = "val[:16]"
    c.model.img.update(width=32, depth=1, mlp_dim=64, num_heads=2)
    c.model.llm.update(width=32, depth=1, mlp_dim=64, num_heads=2, head_dim=16)
    return c
