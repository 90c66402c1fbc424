"""Image-text retrieval evaluator: image->text and text->image Recall@K.

big_vision: `evaluators/proj/image_text/retrieval.py` (+ `image_text_retrieval.py`),
registered here as "retrieval" (also reachable as "proj.image_text.retrieval").
"""

import numpy as np

from keras_vision.evaluators import _image_text
from keras_vision.evaluators.registry import register


def retrieval_recalls(zimg, ztxt, text_to_image, ks=(1, 5, 10)):
    """Recall@K of image->text and text->image retrieval from embeddings.

    Args:
        zimg: (I, D) L2-normalised image embeddings.
        ztxt: (T, D) L2-normalised text embeddings.
        text_to_image: (T,) index of the image each text describes (an image may
            have several texts).
        ks: the K values.

    Returns:
        Dict `{"img2txt/recall@K": ..., "txt2img/recall@K": ...}`: the fraction of
        images with at least one of their texts among the K most similar texts,
        and of texts whose image is among the K most similar images.

    Example:
    >>> r = retrieval_recalls(zimg, ztxt, np.arange(len(ztxt)))
    >>> r["img2txt/recall@1"]
    """
    zimg = np.asarray(zimg, np.float32)
    ztxt = np.asarray(ztxt, np.float32)
    text_to_image = np.asarray(text_to_image)
    if text_to_image.shape != (len(ztxt),):
        raise ValueError(f"text_to_image has shape {text_to_image.shape}; expected ({len(ztxt)},).")
    sim = zimg @ ztxt.T  # (I, T)
    num_images = len(zimg)
    out = {}
    # Rank of the best-ranked correct text per image (0 = first).
    order = np.argsort(-sim, axis=1, kind="stable")
    correct = text_to_image[order] == np.arange(num_images)[:, None]
    has_any = correct.any(axis=1)
    first_i2t = np.where(has_any, correct.argmax(axis=1), np.iinfo(np.int64).max)
    # Rank of the right image per text: how many images score strictly higher.
    own = sim[text_to_image, np.arange(len(ztxt))]
    rank_t2i = (sim > own[None, :]).sum(axis=0)
    for k in ks:
        out[f"img2txt/recall@{k}"] = float(np.mean(first_i2t < k))
        out[f"txt2img/recall@{k}"] = float(np.mean(rank_t2i < k))
    return out


@register("retrieval", "image_text_retrieval")
class RetrievalEvaluator(_image_text.ImageTextEvaluator):
    """Image<->text Recall@K on a data set of images with one or more captions.

    Args:
        data: data config (`keras_vision.data.get_source`), examples with an image
            and a `texts_key` field of one caption or a vector of captions.
        pp_img: pp string giving at least "image" (e.g. "resize(32)|value_range(-1,1)").
        pp_txt: pp string mapping {"texts": scalar string} to {"labels": token ids}.
        ks: Recall@K values (default 1, 5, 10).
        texts_key: field with the captions (default "texts").
        text_slots: optional list of caption indices to use per image (default all).
        batch_size: evaluation batch size.
        num_examples: optional cap on the number of images.

    Example:
    >>> ev = RetrievalEvaluator(data=dict(name="shapes", split="val"), pp_img=..., pp_txt=...)
    >>> dict(ev.run(model))["img2txt/recall@1"]

    Paper: LiT (Zhai et al., 2022) and SigLIP (Zhai et al., 2023) report COCO/Flickr
    Recall@1 this way.
    """

    def __init__(self, *, ks=(1, 5, 10), text_slots=None, **kwargs):
        super().__init__(**kwargs)
        self.ks = tuple(int(k) for k in ks)
        self.text_slots = None if text_slots is None else [int(s) for s in text_slots]

    def run(self, model):
        zimg, texts, _ = self.load_examples(model)
        text_to_image, flat = [], []
        for i, caps in enumerate(texts):
            caps = caps if self.text_slots is None else [caps[s] for s in self.text_slots if s < len(caps)]
            flat.extend(caps)
            text_to_image.extend([i] * len(caps))
        ztxt = self.encode_texts(model, flat)
        for name, value in retrieval_recalls(zimg, ztxt, np.array(text_to_image), self.ks).items():
            yield name, value
