"""PaLI family: PaliGemma (ViT + Gemma prefix-LM) and PaLI (ViT + mT5 encoder-decoder), their layers,
tasks, big_vision builder and converter. Both tasks decode with `keras_vision.decoding`."""

from keras_vision.models.pali import pali_builder  # registers "proj.pali.pali"
from keras_vision.models.pali import paligemma_builder  # registers "proj.paligemma.paligemma"
from keras_vision.models.pali import paligemma_convert  # registers its big_vision converter
from keras_vision.models.pali.gemma_attention import GemmaAttention
from keras_vision.models.pali.gemma_attention import apply_gemma_rope
from keras_vision.models.pali.gemma_decoder_block import GemmaDecoderBlock
from keras_vision.models.pali.gemma_mlp import GemmaMLP
from keras_vision.models.pali.gemma_rms_norm import GemmaRMSNorm
from keras_vision.models.pali.gemma_variants import GEMMA_VARIANTS
from keras_vision.models.pali.next_token_task import NextTokenTask
from keras_vision.models.pali.next_token_task import next_token_xent
from keras_vision.models.pali.pali_backbone import PaLIBackbone
from keras_vision.models.pali.pali_builder import MT5_VARIANTS
from keras_vision.models.pali.pali_seq2seq_lm import PaLISeq2SeqLM
from keras_vision.models.pali.paligemma_backbone import PaliGemmaBackbone
from keras_vision.models.pali.paligemma_causal_lm import PaliGemmaCausalLM
from keras_vision.models.pali.paligemma_inputs import make_attention_mask
from keras_vision.models.pali.t5_attention import T5Attention
from keras_vision.models.pali.t5_decoder_block import T5DecoderBlock
from keras_vision.models.pali.t5_encoder_block import T5EncoderBlock
from keras_vision.models.pali.t5_mlp import T5MLP
from keras_vision.models.pali.t5_rms_norm import T5RMSNorm
