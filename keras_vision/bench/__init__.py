"""Benchmarks (speed and memory figures, printed; `keras-vision bench`). No tests assert timings."""
