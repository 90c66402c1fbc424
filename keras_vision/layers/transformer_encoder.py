"""A pre-LN Transformer encoder stack (blocks + final LayerNorm) for functional backbones.

Two functions rather than a `Layer`: the blocks and the norm stay direct children of
the backbone, so layer names ("encoderblock_{i}", "encoder_norm"), `get_layer`, weight
order and the saved-weights layout are those of a backbone that builds them by hand,
while the variable paths still carry the stack's scope
("Transformer/encoderblock_0/MlpBlock_0/Dense_0/kernel").
"""

import contextlib

import keras

from keras_vision.api_export import keras_vision_export
from keras_vision.layers.layer_norm import LayerNorm
from keras_vision.layers.transformer_encoder_block import TransformerEncoderBlock


@keras_vision_export("keras_vision.layers.make_transformer_encoder")
def make_transformer_encoder(
    num_layers,
    num_heads,
    *,
    stochastic_depth_rate=0.0,
    use_bias=True,
    layer_norm_epsilon=1e-6,
    block_class=TransformerEncoderBlock,
    block_name="encoderblock_{}",
    norm_name="encoder_norm",
    dtype=None,
    **block_kwargs,
):
    """Creates the layers of a Transformer encoder stack: `num_layers` blocks and a LayerNorm.

    Assign both to the model (`self.encoder_blocks, self.encoder_norm = ...`) before
    building the functional graph, then run them with `apply_transformer_encoder`.

    Args:
        num_layers: int, number of blocks (big_vision `depth`).
        num_heads: int.
        stochastic_depth_rate: float, drop-path rate of the last block; block `i` gets
            `rate * i / (num_layers - 1)` (linear in depth from 0).
        use_bias: bool, passed to the blocks and the final LayerNorm (False: ViT-22B).
        layer_norm_epsilon: float, for the blocks and the final LayerNorm.
        block_class: the block layer; default `TransformerEncoderBlock`. It is called
            as `block_class(num_heads, stochastic_depth_rate=..., use_bias=...,
            layer_norm_epsilon=..., name=..., dtype=..., **block_kwargs)`.
        block_name: format string of the block names, given the block index.
        norm_name: name of the final LayerNorm.
        dtype: dtype policy of every layer.
        **block_kwargs: the other block arguments (intermediate_dim, dropout_rate,
            block_type, qk_norm, attention_dropout_rate, ...).

    Returns:
        (blocks, norm): a list of `num_layers` blocks and the final `LayerNorm`.

    Example:
        >>> blocks, norm = make_transformer_encoder(2, 4, intermediate_dim=128, block_type="parallel")
        >>> x = apply_transformer_encoder(np.zeros((2, 16, 64)), blocks, norm, scope="Transformer")

    Paper: "An Image is Worth 16x16 Words" (https://arxiv.org/abs/2010.11929).
    """
    blocks = [
        block_class(
            num_heads,
            stochastic_depth_rate=stochastic_depth_rate * i / max(1, num_layers - 1),
            use_bias=use_bias,
            layer_norm_epsilon=layer_norm_epsilon,
            name=block_name.format(i),
            dtype=dtype,
            **block_kwargs,
        )
        for i in range(num_layers)
    ]
    norm = LayerNorm(layer_norm_epsilon, use_bias=use_bias, name=norm_name, dtype=dtype)
    return blocks, norm


@keras_vision_export("keras_vision.layers.apply_transformer_encoder")
def apply_transformer_encoder(
    x,
    blocks,
    norm,
    *,
    scope=None,
    training=None,
    outputs=None,
    intermediates=False,
    prefix="",
    **call_kwargs,
):
    """Runs `blocks` then `norm` (from `make_transformer_encoder`) on tokens `x`.

    Args:
        x: (batch, N, D) tokens (symbolic while building a functional model).
        blocks: list of encoder blocks.
        norm: the final LayerNorm.
        scope: optional name scope; variables built inside read "{scope}/{layer}/..."
            (big_vision: "Transformer" for the ViT, "Encoder_0" for the text tower).
            A plain `keras.Model` reloaded from `.keras` is rebuilt without it; a
            backbone that calls this in `__init__` keeps it.
        training: bool or None.
        outputs: optional dict that receives big_vision's intermediate names:
            "{prefix}pre_ln" (the input of `norm`) always, and with `intermediates`
            also "{prefix}blockNN/{sa,+sa,mlp,+mlp}".
        intermediates: bool, record each block's intermediates in `outputs`.
        prefix: string put before the names written to `outputs`.
        **call_kwargs: passed to every block call (e.g. attention_mask, use_causal_mask).

    Returns:
        The normalized output, (batch, N, D).

    Example:
        >>> out = {}
        >>> y = apply_transformer_encoder(x, blocks, norm, outputs=out, intermediates=True)
        >>> sorted(out)[:2]
        ['block00/+mlp', 'block00/+sa']
    """
    with keras.name_scope(scope) if scope else contextlib.nullcontext():
        for i, block in enumerate(blocks):
            if intermediates:
                x, block_out = block(x, training=training, return_intermediates=True, **call_kwargs)
                if outputs is not None:
                    for key, value in block_out.items():
                        outputs[f"{prefix}block{i:02d}/{key}"] = value
            else:
                x = block(x, training=training, **call_kwargs)
        if outputs is not None:
            outputs[f"{prefix}pre_ln"] = x
        return norm(x)
