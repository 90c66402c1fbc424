# Two entry points (README): `make demo` and `make test`. Each builds its own venv.
PYTHON ?= python3
VENV := .venv
UVBOOT := .uv
UV := $(UVBOOT)/bin/uv
BIN := $(VENV)/bin
export KERAS_BACKEND ?= jax
export UV_COMPILE_BYTECODE := 1
export TF_CPP_MIN_LOG_LEVEL := 2

.PHONY: venv demo test test-jax test-tf clean

$(UV):
	$(PYTHON) -m venv $(UVBOOT)
	$(UVBOOT)/bin/pip install -q uv==0.13.9

$(BIN)/keras-vision: $(UV) pyproject.toml uv.lock
	$(UV) sync --frozen --extra test --python $(PYTHON) --compile-bytecode -q
	touch $@

venv: $(BIN)/keras-vision

# Main job: train the demo recipe on the embedded shapes world, evaluate, export.
demo: venv
	$(BIN)/keras-vision demo --workdir runs/demo --export saved_models/demo

# Whole suite on JAX, then the models/losses/export subset on TensorFlow.
test: venv
	$(BIN)/python -m pytest -x -q -p no:cacheprovider tests
	KERAS_BACKEND=tensorflow $(BIN)/python -m pytest -x -q -p no:cacheprovider -m multibackend tests

clean:
	rm -rf $(VENV) $(UVBOOT) runs
