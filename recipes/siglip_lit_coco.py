"""SigLIP-LiT on COCO captions: locked AugReg ViT-B/16, text tower trained with the sigmoid loss.

Port of big_vision's `configs/proj/image_text/siglip_lit_coco.py` (the minimal SigLIP /
LiT example; formerly `lit_coco.py`). Hyper-parameters as there:
  - image tower: ViT `img` variant (default B/16), `pool_type="tok"`, `head_zeroinit=False`,
    initialised from the AugReg i21k checkpoint and **locked**
    (`schedule=[("img/.*", None), (".*", cosine + warmup)]`);
  - text tower: big_vision uses `proj.flaxformer.bert` (BERT-base, LiT-BERT) with
    `bert_tokenize(max_len=16)`; keras_vision has no BERT port, so the text tower here is
    the SigLIP text transformer (variant B, 32k SentencePiece vocabulary, 16 tokens,
    last-token pooling) -- a documented deviation;
  - `out_dim=(None, 768)` ("img_head" argument: `(768, 768)`), `temperature_init=10.0`,
    `bias_init=-2.71` (as big_vision's config);
  - batch 512, 5000 steps, Adam (Adafactor for bert_large in big_vision), lr 1e-3,
    wd 0.01 (decoupled, times the schedule, not the lr: big_vision semantics),
    warmup max(3% of steps, 100), cosine, clip 1.0;
  - train pp `decode|resize(224)|flip_lr|randaug(2,10)|value_range(-1,1)|` + tokenize(16);
    eval: COCO image<->text retrieval (Recall@1/5/10).

Expected numbers: big_vision's config does not state any; it is a minimal example. For
scale, the SigLIP paper reports (abstract) 84.5% ImageNet zero-shot for a SigLiT g/14
trained on WebLI with 4 TPUv4 chips in two days -- not comparable to COCO-only training.

Data: COCO captions from TFDS ("coco_captions", set `data_dir`), not present here. The
full mode therefore fails at data loading on this machine; `runlocal` swaps in the
shapes world (its own SentencePiece vocabulary, trained at the start of the run) and a
tiny locked tower, so the recipe's plumbing is exercised in seconds.

Commands:
  keras-vision train recipes/siglip_lit_coco.py:runlocal --workdir runs/siglip_lit_coco_local
  keras-vision train recipes/siglip_lit_coco.py:img=B/16,img_init=/path/to/augreg_B16.npz,\
      data_dir=/path/to/tfds,spm=/path/to/c4_en.model --workdir runs/siglip_lit_coco
"""

from keras_vision.config import ConfigDict
from keras_vision.config import parse_arg
from keras_vision.config import recipe_helpers as ru


def get_config(arg=None):
    arg = parse_arg(arg, img="B/16", img_head=False, img_init="", data_dir="", spm="c4_en",
                    batch_size=512, total_steps=5000, runlocal=False)
    c = ConfigDict()
    c.seed = 0

    max_len = 16
    tok = ru.tokenize_pp(max_len, arg.spm)
    c.input = dict(
        data=dict(name="coco_captions", split="train", data_dir=arg.data_dir or None),
        batch_size=arg.batch_size,
        shuffle_buffer_size=50_000,
        pp=ru.image_text_pp(tok, "decode|resize(224)|flip_lr|randaug(2, 10)|value_range(-1, 1)"),
    )
    c.label_key = None
    c.total_steps = arg.total_steps
    c.log_training_steps = 50
    c.ckpt_steps = 1000

    c.model_name = "proj.image_text.two_towers"
    c.model = dict(
        image=dict(variant=arg.img, pool_type="tok", head_zeroinit=False, image_size=224),
        text=dict(variant="B", vocab_size=32_000, seq_len=max_len),
        out_dim=(768 if arg.img_head else None, 768),
        temperature_init=10.0,
        bias_init=-2.71,
        loss="sigmoid",
        image_init=arg.img_init or None,
    )
    c.model_init = None
    c.loss = None

    c.optax_name = "scale_by_adam"
    c.lr = 1e-3
    c.wd = 0.01
    c.grad_clip_norm = 1.0
    warmup = max(int(0.03 * arg.total_steps), 100)
    c.schedule = [("img/.*", None), (".*", dict(decay_type="cosine", warmup_steps=warmup))]

    c.evals = dict(
        retrieval_coco=dict(
            type="retrieval", data=dict(name="coco_captions", split="val", data_dir=arg.data_dir or None),
            pp_img="decode|resize(224)|value_range(-1, 1)", pp_txt=tok, texts_key="captions/text",
            log_steps=1000, batch_size=256),
    )

    if arg.runlocal:
        # Same structure on the embedded shapes world: tiny towers, a shapes vocabulary.
        tok = ru.shapes_image_text_runlocal(c, max_len=max_len)
        c.model.image = dict(variant="mu/8", pool_type="tok", head_zeroinit=False, image_size=32)
        c.model.text = dict(variant="mu", vocab_size=128, seq_len=max_len)
        c.model.out_dim = (32 if arg.img_head else None, 32)
        c.evals = dict(retrieval=ru.shapes_retrieval_eval(dict(name="shapes", split="val[:32]"), tok,
                                                          log_steps=10, batch_size=16))
    return c
