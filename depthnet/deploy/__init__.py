"""Deployment: the exported network on the runtimes robots and phones use (LiteRT, ONNX Runtime).

- :mod:`depthnet.deploy.graph`: THE fixed-size inference graph (uint8 RGB -> metres) every format is
  converted from (default 480x640, a NYU frame);
- :mod:`depthnet.deploy.litert`: `.tflite` in fp32, fp16 weights and full int8 (`tf.lite.TFLiteConverter`),
  with a ``serving_default`` signature (``images`` -> ``depth``);
- :mod:`depthnet.deploy.onnx`: `.onnx` through tf2onnx (dynamic batch, NHWC uint8, ``images`` -> ``depth``);
- :mod:`depthnet.deploy.runtimes`: one Predictor per file, the host-side resize (THE kernel of
  :mod:`depthnet.inference`), the model card's numbers checked before use;
- :mod:`depthnet.deploy.model_card`, :mod:`depthnet.deploy.card_contract`: the `model.json` written next to
  every export, a complete contract for a client that has only the file;
- :mod:`depthnet.deploy.run_facts`: what the card says about the run (paths resolved, data, scores, intended use);
- :mod:`depthnet.deploy.export_layout`, :mod:`depthnet.deploy.export_dirs`: one sub-folder per format,
  replaced atomically, stale formats flagged;
- :mod:`depthnet.deploy.export`: `depthnet-export --format=...` for a training run.
"""
