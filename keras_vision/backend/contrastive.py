"""The ring (multi-device) SigLIP loss when JAX data parallelism is active; None elsewhere.

`keras_vision.losses.sigmoid_loss_chunked` calls `ring_sigmoid_loss` and falls back to
the dense `sigmoid_loss` when it returns None, so this module needs nothing above
`backend/`.
"""

import keras


def active_data_parallel_mesh():
    """Returns `(device_mesh, batch_axis_name)` of the active distribution, or None.

    None unless the backend is JAX and a `keras.distribution` distribution with a
    batch axis of more than one device is set (DataParallel, ModelParallel).
    """
    if keras.backend.backend() != "jax":
        return None
    dist = keras.distribution.distribution()
    if dist is None:
        return None
    axis = getattr(dist, "batch_dim_name", None)
    mesh = getattr(dist, "device_mesh", None)
    if axis is None or mesh is None or axis not in mesh.axis_names:
        return None
    if mesh.shape[list(mesh.axis_names).index(axis)] < 2:
        return None
    return mesh, axis


def ring_sigmoid_loss(zimg, ztxt, t, b=None):
    """SigLIP loss ring-chunked over the devices of JAX data parallelism, or None.

    None (the caller computes the dense loss) without an active data-parallel JAX
    distribution, or when the batch does not split evenly over the data axis (e.g. a
    last partial evaluation batch).
    """
    active = active_data_parallel_mesh()
    if active is None:
        return None
    mesh, axis = active
    n = mesh.shape[list(mesh.axis_names).index(axis)]
    if zimg.shape[0] is None or zimg.shape[0] % n:
        return None
    # Per-backend dispatch: the ring needs jax (shard_map), imported only on JAX.
    from keras_vision.backend.jax import chunked_sigmoid_loss as ring

    return ring.chunked_sigmoid_loss(zimg, ztxt, t, b, mesh=mesh, axis_name=axis)
