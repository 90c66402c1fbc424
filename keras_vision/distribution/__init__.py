"""Scale-out on JAX: big_vision-style mesh + ordered sharding rules -> `keras.distribution`.

Recipe keys: `config.mesh` (e.g. `[("data", -1)]`, `[("data", 2), ("model", 4)]`),
`config.sharding_strategy` (ordered `[(regex over variable.path, spec)]`, first match
wins; alias `config.sharding`) or `config.sharding_rules` (a ready set: "data", "fsdp",
"fsdp_tp"), `config.remat` and `config.dtype_mm`. `keras_vision.trainers.train` applies
them; scripts can call `make_distribution(config)` and build under `dist.scope()`.

Multi-host (TPU pod, multi-node GPU): every host runs the same command; call
`keras.distribution.initialize()` (JAX reads the coordinator from the TPU metadata or
from `KERAS_DISTRIBUTION_JOB_ADDRESSES` / `KERAS_DISTRIBUTION_NUM_PROCESSES` /
`KERAS_DISTRIBUTION_PROCESS_ID`) before anything touches a device; `keras-vision train`
does so when `config.multihost = True`. The mesh then spans all hosts' devices and each
host's tf.data pipeline feeds its own slice of the global batch (Keras shards the
dataset per process).
"""

from keras_vision.distribution.abstract_variables import abstract_variables
from keras_vision.distribution.distribution_config import DISTRIBUTION_KEYS
from keras_vision.distribution.distribution_config import check_batch_size
from keras_vision.distribution.distribution_config import data_axis_size
from keras_vision.distribution.distribution_config import has_distribution_keys
from keras_vision.distribution.distribution_config import make_device_mesh
from keras_vision.distribution.distribution_config import make_distribution
from keras_vision.distribution.family_rules import LEVELS
from keras_vision.distribution.family_rules import VIT_22B
from keras_vision.distribution.family_rules import sharding_rules
from keras_vision.distribution.memory_options import apply_remat
from keras_vision.distribution.memory_options import model_build_scope
from keras_vision.distribution.rule_model_parallel import RuleModelParallel
from keras_vision.distribution.sharding_spec import ShardingRuleError
