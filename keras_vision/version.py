"""The keras_vision version, in a module of its own so any package can read it without
importing the package root (which imports every sub-package)."""

__version__ = "0.1.0"
