"""SigLIP ViT-B/16 from scratch on WebLI (English): the released SigLIP B/16 setup.

Two towers as big_vision's released SigLIP models (`SigLIP_demo.ipynb` config):
`image=dict(variant="B/16", pool_type="map")` (MAP head, no projection),
`text_model="proj.image_text.text_transformer"`, `text=dict(variant="B",
vocab_size=32_000)` pooling the last token, `out_dim=(None, 768)`,
`temperature_init=10.0` (t' = log 10), `bias_init=-10.0`; pairwise sigmoid loss over the
global batch, computed chunked over devices (ring of ppermutes, loss="sigmoid_chunked")
so that no device holds the 32k x 32k logits. Images `resize(224)|value_range(-1, 1)`,
texts lower-cased SentencePiece c4_en (32k), 64 tokens, sticky EOS, pad = EOS (id 1).

Training (SigLIP paper, arXiv:2303.15343, and the released model card): batch 32k
(the paper finds 32k sufficient), 16 TPUv4 chips for 3 days for B/16 at 224 px. The
optimizer here is Adam, lr 1e-3, decoupled wd 1e-4, cosine decay with 20k warmup
steps, clip 1.0 (the setup SigLIP 2 states; SigLIP 1 used big_vision's
ScalingViT-Adafactor variant -- select it with `optax_name=big_vision.scale_by_adafactor`).
The number of examples seen is a recipe argument (`examples`, default 9B,
unverified against the paper).

Expected: ImageNet zero-shot top-1 ~76% for the released B/16 at 224 px (big_vision's
SigLIP demo table; not reproducible here). Evals: zero-shot ImageNet
(`discriminative_classifier`), COCO retrieval.

Data: WebLI is not public; point `data` at any image-text source with "image" bytes
and "texts" (e.g. an `image_text_jsonl` file list). Not present here, so the full mode
fails at data loading on this machine; `runlocal` trains the same structure (tiny
towers) on the shapes world with a shapes SentencePiece vocabulary in seconds.

Commands:
  keras-vision train recipes/siglip_b16_webli.py:runlocal --workdir runs/siglip_b16_local
  keras-vision train recipes/siglip_b16_webli.py:data=webli,spm=/path/c4_en.model --workdir runs/siglip_b16
"""

from keras_vision.config import ConfigDict
from keras_vision.config import parse_arg
from keras_vision.config import recipe_helpers as ru


def get_config(arg=None):
    arg = parse_arg(arg, runlocal=False, data="webli", data_dir="", spm="c4_en", batch_size=32_768,
                    examples=9_000_000_000, res=224, img="B/16", txt="B")
    c = ConfigDict()
    c.seed = 0
    max_len = 64
    tok = ru.tokenize_pp(max_len, arg.spm)

    c.input = dict(
        data=dict(name=arg.data, split="train", data_dir=arg.data_dir or None),
        batch_size=arg.batch_size,
        shuffle_buffer_size=250_000,
        pp=ru.image_text_pp(tok, f"decode|resize({arg.res})|value_range(-1, 1)"),
    )
    c.label_key = None
    c.total_steps = int(arg.examples // arg.batch_size)
    c.log_training_steps = 50
    c.ckpt_steps = 1000

    c.model_name = "proj.image_text.two_towers"
    c.model = dict(
        image=dict(variant=arg.img, pool_type="map", image_size=arg.res),
        text=dict(variant=arg.txt, vocab_size=32_000, seq_len=max_len),
        out_dim=(None, 768),
        temperature_init=10.0,
        bias_init=-10.0,
        loss="sigmoid_chunked",
    )
    c.model_init = None
    c.loss = None

    c.optax_name = "scale_by_adam"
    c.optax = dict(mu_dtype="bfloat16")
    c.lr = 1e-3
    c.wd = 1e-4
    c.grad_clip_norm = 1.0
    c.schedule = dict(warmup_steps=20_000, decay_type="cosine")

    c.evals = dict(
        disclf=dict(type="discriminative_classifier", data=dict(name="imagenet2012", split="validation"),
                    pp_img=f"decode|resize({arg.res})|value_range(-1, 1)", pp_txt=tok,
                    class_names="imagenet", prompt_templates="photo", label_key="label", log_steps=10_000),
        retrieval_coco=dict(type="retrieval", data=dict(name="coco_captions", split="val"),
                            pp_img=f"decode|resize({arg.res})|value_range(-1, 1)", pp_txt=tok,
                            texts_key="captions/text", log_steps=10_000),
    )

    if arg.runlocal:
        tok = ru.shapes_image_text_runlocal(c, max_len=16)
        c.optax = dict()
        c.model.image = dict(variant="mu/8", pool_type="map", image_size=32)
        c.model.text = dict(variant="mu", vocab_size=128, seq_len=16)
        c.model.out_dim = (None, 32)
        val = dict(name="shapes", split="val[:32]")
        c.evals = dict(
            disclf=ru.shapes_zeroshot_eval(val, tok, log_steps=10, batch_size=16, type="discriminative_classifier"),
            retrieval=ru.shapes_retrieval_eval(val, tok, log_steps=10, batch_size=16),
        )
    return c
