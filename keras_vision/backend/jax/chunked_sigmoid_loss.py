"""Chunked SigLIP sigmoid loss on JAX: a ring of devices, no global (B, B) logits.

Each device of the batch axis of the mesh holds b = B / n images and texts. It
scores its images against its own texts (positives on the diagonal), then n - 1
times passes its current block of text embeddings to the next device of the ring
(`lax.ppermute`) and scores its images against the block it received (negatives
only). The per-device partial sums are `psum`-med and divided by B.

Per device only one (b, b) block of logits is live at a time, and the block is
recomputed in the backward pass (`jax.checkpoint`), so the logits cost O(b^2)
memory instead of the O(b * B) that a dense, GSPMD-partitioned loss needs. The
texts travel as (b, D) arrays; the backward pass sends their cotangents back
around the ring (the transpose of `ppermute`).

big_vision's `_deprecated_contrastive.chunked_sigmoid_loss` does the same per
device pass with an all-reduce per step; this is the ppermute ring its docstring
and the SigLIP paper (§3.3) describe.
"""

import functools

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax
from jax.sharding import Mesh
from jax.sharding import PartitionSpec as P


def _block_sum(zimg, ztxt, t, b, positives):
    # Sum of -log_sigmoid(sign * logits) over one block; sign = +1 only on the
    # diagonal of a device's own block.
    logits = jnp.dot(zimg, ztxt.T, preferred_element_type=jnp.float32) * t + b
    eye = jnp.eye(logits.shape[0], logits.shape[1], dtype=logits.dtype)
    signs = 2.0 * eye * positives.astype(logits.dtype) - 1.0
    return -jnp.sum(jax.nn.log_sigmoid(signs * logits))


# Recompute the block's logits in the backward pass instead of storing them.
_block_sum_remat = jax.checkpoint(_block_sum)


def _ring_loss(zimg, ztxt, t, b, *, axis_name, axis_size):
    """Per-device body under shard_map: returns the global sum (replicated)."""
    total = _block_sum_remat(zimg, ztxt, t, b, jnp.array(True))
    if axis_size > 1:
        # Device i sends its block to device i + 1, so after k hops device i holds
        # the texts of device i - k: every (images, texts) block is visited once.
        perm = [(i, (i + 1) % axis_size) for i in range(axis_size)]

        def step(carry, _):
            block, acc = carry
            block = lax.ppermute(block, axis_name, perm)
            acc = acc + _block_sum_remat(zimg, block, t, b, jnp.array(False))
            return (block, acc), None

        (_, total), _ = lax.scan(step, (ztxt, total), None, length=axis_size - 1)
    return lax.psum(total, axis_name)


def _to_jax_device(name):
    if isinstance(name, jax.Device):
        return name
    name = str(name)
    platform, _, index = name.partition(":")
    for device in jax.devices(platform):
        if device.id == int(index or 0):
            return device
    raise ValueError(
        f"Device {name!r} of the keras DeviceMesh is not a JAX device; known: "
        f"{[f'{d.platform}:{d.id}' for d in jax.devices()]}."
    )


def mesh_from_keras(device_mesh):
    """Converts a `keras.distribution.DeviceMesh` to a `jax.sharding.Mesh`."""
    names = np.asarray(device_mesh.devices)
    devices = np.array([_to_jax_device(d) for d in names.flatten()]).reshape(names.shape)
    return Mesh(devices, tuple(device_mesh.axis_names))


def chunked_sigmoid_loss(zimg, ztxt, t, b=None, *, mesh, axis_name):
    """SigLIP loss of global-batch embeddings sharded over `axis_name` of `mesh`.

    Args:
        zimg: (B, D) image embeddings (global shape; B divisible by the axis size).
        ztxt: (B, D) text embeddings.
        t: temperature, already exponentiated (scalar or (1,)).
        b: optional bias (scalar or (1,)).
        mesh: a `jax.sharding.Mesh` (or a keras `DeviceMesh`).
        axis_name: name of the data-parallel axis of `mesh`.

    Returns:
        The scalar loss, equal to the dense `sigmoid_loss`.
    """
    if not isinstance(mesh, Mesh):
        mesh = mesh_from_keras(mesh)
    if axis_name not in mesh.shape:
        raise ValueError(f"Axis {axis_name!r} is not in the mesh axes {tuple(mesh.shape)}.")
    n = mesh.shape[axis_name]
    batch = zimg.shape[0]
    if batch % n:
        raise ValueError(
            f"Global batch {batch} must be divisible by the {axis_name!r} axis size {n}."
        )
    t = jnp.reshape(jnp.asarray(t, jnp.float32), ())
    b = jnp.zeros((), jnp.float32) if b is None else jnp.reshape(jnp.asarray(b, jnp.float32), ())
    body = functools.partial(_ring_loss, axis_name=axis_name, axis_size=n)
    total = jax.shard_map(
        body,
        mesh=mesh,
        in_specs=(P(axis_name), P(axis_name), P(), P()),
        out_specs=P(),
    )(zimg, ztxt, t, b)
    return total / batch
