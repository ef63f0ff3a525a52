"""The data layer: the on-disk shard format, the tf.data pipelines, decoding, frames and the camera.

Nothing here imports TensorFlow at package import (a rendering worker imports `depthnet.data.frame`)."""
