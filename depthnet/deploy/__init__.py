"""Deployment: the exported network on the runtimes robots and phones use (LiteRT, ONNX Runtime).

- :mod:`depthnet.deploy.graph`: THE fixed-size inference graph (uint8 RGB -> metres) every format is
  converted from, and the host-side resize to it;
- :mod:`depthnet.deploy.litert`: `.tflite` in fp32, fp16 weights and full int8 (`tf.lite.TFLiteConverter`);
- :mod:`depthnet.deploy.onnx`: `.onnx` through tf2onnx (dynamic batch, NHWC uint8);
- :mod:`depthnet.deploy.model_card`: the `model.json` written next to every export;
- :mod:`depthnet.deploy.export`: `depthnet-export --format=...` for a training run.
"""
