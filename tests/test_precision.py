"""Mixed precision (bf16, fp16 with dynamic loss scaling) and gradient recomputation of the train step."""

import dataclasses
import os

import keras
import numpy as np
import pytest
import tensorflow as tf

from data_prep import write_frames
from depthnet.config import TrainConfig, preset
from depthnet.data import pipeline as data
from depthnet.data import records
from depthnet.errors import NonFiniteLossError
from depthnet.modeling import backbone as backbone_module
from depthnet.precision import DynamicLossScale
from depthnet.training.loop import Trainer, train
from depthnet.training.loss import log_l1_loss

SIZE = (64, 96)
SEED = 4  # a random initialisation whose tiny network outputs finite depth (see the report on Log1pDepth)


@pytest.fixture(autouse=True)
def float32_policy_after():
    yield
    keras.mixed_precision.set_global_policy("float32")


@pytest.fixture(scope="module")
def data_root(tmp_path_factory):
    root = tmp_path_factory.mktemp("data")
    rng = np.random.default_rng(0)

    def frames(n):
        for i in range(n):
            rgb = rng.integers(0, 256, (78, 104, 3), dtype=np.uint8)
            depth = (1.0 + 4.0 * rng.random((78, 104))).astype(np.float32)
            depth[:4] = 0.0
            yield records.Frame(rgb, depth, scene=f"s{i % 2}", frame=f"{i:04d}")

    write_frames(frames(8), str(root / "train"), num_shards=2)
    write_frames(frames(2), str(root / "test"))
    return str(root)


def _batch(batch=2, seed=0):
    """A fixed batch: smooth images, depth a smooth function of the image (learnable), a band of holes."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0 : SIZE[0], 0 : SIZE[1]].astype(np.float32)
    images = np.stack(
        [np.stack([0.5 + 0.4 * np.sin(xx / (9 + 3 * b + c) + yy / 17) for c in range(3)], -1) for b in range(batch)]
    ).astype(np.float32)
    images += rng.normal(0, 0.02, images.shape).astype(np.float32)
    depth = (1.0 + 3.0 * images[..., :1].mean(-1, keepdims=True) + yy[None, ..., None] / SIZE[0]).astype(np.float32)
    depth[:, :3] = 0.0
    return np.clip(images, 0, 1), depth, (depth > 0).astype(np.float32)


def _run(tmp_path, **kw):
    base = dict(model_dir=str(tmp_path), train_steps=100, decay_steps=1000, dmg_lr=1e-3, dfe_lr=1e-3, batch_size=2)
    base.update(kw)
    return TrainConfig(**base)


@pytest.mark.parametrize("precision,compute", [("bf16", "bfloat16"), ("fp16", "float16")])
def test_mixed_precision_reduces_loss_with_float32_variables_and_output(tmp_path, precision, compute):
    keras.utils.set_random_seed(SEED)
    # Trainable BatchNorm keeps the from-scratch tiny network's logits in softplus' working range.
    trainer = Trainer(preset("tiny", frozen_stages=0, freeze_batchnorm=False), _run(tmp_path, precision=precision))
    assert {v.dtype for v in trainer.model.weights} == {"float32"}
    assert trainer.model.get_layer("dmg_head").compute_dtype == compute
    assert trainer.model.get_layer("dfe").get_layer("conv4_block1_2_conv").compute_dtype == compute
    assert trainer.model.get_layer("depth").compute_dtype == "float32"
    images, depth, mask = _batch()
    assert trainer.model(images).dtype == "float32"
    losses = []
    for _ in range(6):
        out = trainer.train_step(images, depth, mask)
        assert bool(out["finite"]) and not bool(out["overflow"])
        assert out["loss"].dtype == tf.float32
        losses.append(float(out["loss"]))
    assert losses[-1] < 0.8 * losses[0], losses
    assert int(trainer.step.numpy()) == 6
    assert {v.dtype for v in trainer.model.weights} == {"float32"}
    assert {v.dtype for o in trainer.optimizers.values() for v in o.variables if v.dtype != "int64"} == {"float32"}
    assert (trainer.loss_scale is not None) == (precision == "fp16")
    if precision == "fp16":
        assert float(out["loss_scale"]) == DynamicLossScale.INITIAL_SCALE


def test_fp16_overflow_step_is_skipped_and_scale_halved(tmp_path, monkeypatch):
    monkeypatch.setattr(DynamicLossScale, "INITIAL_SCALE", 2.0**31)  # loss x 2^31 overflows float16 gradients
    keras.utils.set_random_seed(SEED)
    trainer = Trainer(preset("tiny", frozen_stages=0), _run(tmp_path, precision="fp16"))
    before = [v.numpy().copy() for v in trainer.model.weights]
    images, depth, mask = _batch()
    out = trainer.train_step(images, depth, mask)
    assert not bool(out["finite"]) and bool(out["overflow"]) and np.isfinite(float(out["loss"]))
    assert float(trainer.loss_scale.scale.numpy()) == 2.0**30
    assert int(trainer.step.numpy()) == 0
    assert all(int(o.iterations.numpy()) == 0 for o in trainer.optimizers.values())
    for b, v in zip(before, trainer.model.weights):
        np.testing.assert_array_equal(b, v.numpy())
    # A NaN loss is not an overflow: the guard still sees it. (A NaN in the depth head's weights, not NaN
    # images: on some oneDNN builds ReLU maps NaN activations to 0, so NaN images can give a finite loss.)
    head = trainer.model.trainable_variables[-1]
    head.assign(np.full(head.shape, np.nan, head.dtype))
    nan_out = trainer.train_step(images, depth, mask)
    assert not bool(nan_out["finite"]) and not bool(nan_out["overflow"])
    assert float(trainer.loss_scale.scale.numpy()) == 2.0**30


def test_fp16_training_skips_overflow_steps_then_checkpoints_and_resumes_the_loss_scale(
    data_root, tmp_path, monkeypatch
):
    monkeypatch.setattr(DynamicLossScale, "INITIAL_SCALE", 2.0**33)
    run = TrainConfig(
        model_dir=str(tmp_path / "run"),
        data_dir=data_root,
        train_steps=3,
        checkpoint_every=3,
        eval_every=100,
        log_every=1,
        image_every=0,
        batch_size=2,
        seed=1,
        precision="fp16",
    )
    lines = []
    keras.utils.set_random_seed(SEED)
    summary = train(preset("tiny"), run, log=lines.append)  # would raise NonFiniteLossError without the skip
    overflow_lines = [line for line in lines if line.startswith("fp16 gradient overflow")]
    assert overflow_lines and summary["step"] == 3
    resumed = Trainer(preset("tiny"), run)
    resumed.restore()
    scale = float(resumed.loss_scale.scale.numpy())
    assert scale < 2.0**33 and scale == 2.0 ** (33 - len(overflow_lines))
    assert int(resumed.step.numpy()) == 3
    # The checkpoint layout is the same in every precision: an fp16 checkpoint resumes in fp32 and back.
    as_fp32 = Trainer(preset("tiny"), dataclasses.replace(run, precision="fp32"))
    as_fp32.restore()
    assert int(as_fp32.step.numpy()) == 3 and as_fp32.loss_scale is None
    as_fp32.manager.save(checkpoint_number=4)
    back = Trainer(preset("tiny"), run)
    back.restore()
    assert int(back.step.numpy()) == 3 and float(back.loss_scale.scale.numpy()) == 2.0**33  # fresh scale


def test_fp16_non_finite_loss_still_stops_training(data_root, tmp_path, monkeypatch):
    run = TrainConfig(
        model_dir=str(tmp_path),
        data_dir=data_root,
        train_steps=4,
        checkpoint_every=2,
        eval_every=100,
        log_every=1,
        image_every=0,
        batch_size=2,
        seed=1,
        precision="fp16",
    )
    real = data.train_dataset

    def poisoned(*args, **kwargs):
        return real(*args, **kwargs).map(lambda b: {**b, "image": b["image"] * np.nan})

    monkeypatch.setattr(data, "train_dataset", poisoned)
    keras.utils.set_random_seed(SEED)
    with pytest.raises(NonFiniteLossError, match="fp16"):
        train(preset("tiny"), run, log=lambda s: None)


# ------------------------------------------------------------------------------------ recomputation


def _gradients(trainer, images, depth, mask):
    """Loss and gradients of the trainer's forward pass, in a tf.function (graph-mode custom gradients)."""

    @tf.function
    def compute(images, depth, mask):
        with tf.GradientTape() as tape:
            loss = log_l1_loss(depth, trainer.forward(images, training=True), mask)
        return loss, tape.gradient(loss, trainer._variables)

    loss, grads = compute(images, depth, mask)
    return float(loss), [g.numpy() for g in grads]


@pytest.mark.parametrize("frozen", [True, False], ids=["paper_frozen", "trainable_bn"])
def test_recompute_gives_the_same_gradients_and_statistics(tmp_path, monkeypatch, frozen):
    # Two blocks per stage, so segments have inner boundaries; stages 1-2 frozen or everything trainable.
    monkeypatch.setitem(backbone_module.BACKBONE_BLOCKS, "tiny", (2, 2, 2, 2))
    model_config = (
        preset("tiny", frozen_stages=2, freeze_batchnorm=True)
        if frozen
        else preset("tiny", frozen_stages=0, freeze_batchnorm=False)
    )
    keras.utils.set_random_seed(SEED)
    plain = Trainer(model_config, _run(tmp_path / "plain"))
    staged = Trainer(model_config, _run(tmp_path / "staged", recompute=True))
    head = plain.model.get_layer("dmg_head").kernel  # starts at zero: give it values so gradients reach the body
    head.assign(np.random.default_rng(SEED).normal(0.0, 0.05, head.shape).astype("float32"))
    staged.model.set_weights(plain.model.get_weights())
    assert staged.forward is not staged.model and len(staged.forward.segments) == 8
    assert staged.forward.num_recomputed == (4 if frozen else 8)  # frozen stages need no backward pass
    images, depth, mask = _batch()
    loss_a, grads_a = _gradients(plain, images, depth, mask)
    loss_b, grads_b = _gradients(staged, images, depth, mask)
    assert loss_a == pytest.approx(loss_b, rel=1e-6)
    scale = max(np.abs(g).max() for g in grads_a)
    assert len(grads_a) == len(grads_b) == len(plain.model.trainable_variables) and scale > 0
    for a, b in zip(grads_a, grads_b):
        np.testing.assert_allclose(b, a, rtol=1e-5, atol=1e-6 * scale)
    # Training-mode BatchNorm updated its moving statistics once per forward pass, not again when recomputed.
    for a, b in zip(plain.model.non_trainable_weights, staged.model.non_trainable_weights):
        np.testing.assert_allclose(b.numpy(), a.numpy(), rtol=1e-6, atol=1e-7, err_msg=a.path)
    if not frozen:
        assert any(
            not np.allclose(v.numpy(), 0.0) for v in staged.model.non_trainable_weights if "moving_mean" in v.path
        )
    # The recomputing train step applies those gradients: same loss and gradient norm, every trainable weight moves.
    before = [v.numpy().copy() for v in staged.model.trainable_variables]
    out = staged.train_step(images, depth, mask)
    assert bool(out["finite"]) and int(staged.step.numpy()) == 1
    assert float(out["grad_norm"]) == pytest.approx(
        float(np.sqrt(sum((g.astype(np.float64) ** 2).sum() for g in grads_a))), rel=1e-5
    )
    moved = [not np.array_equal(b, v.numpy()) for b, v in zip(before, staged.model.trainable_variables)]
    assert sum(moved) >= 0.9 * len(moved)


def test_recompute_in_bf16_matches_plain_bf16(tmp_path):
    keras.utils.set_random_seed(SEED)
    plain = Trainer(preset("tiny", frozen_stages=0), _run(tmp_path / "plain", precision="bf16"))
    staged = Trainer(preset("tiny", frozen_stages=0), _run(tmp_path / "staged", precision="bf16", recompute=True))
    staged.model.set_weights(plain.model.get_weights())
    images, depth, mask = _batch()
    loss_a, grads_a = _gradients(plain, images, depth, mask)
    loss_b, grads_b = _gradients(staged, images, depth, mask)
    assert loss_a == pytest.approx(loss_b, rel=1e-6)
    # bfloat16 keeps 8 significant bits: summing a block input's gradient contributions in another order
    # (inside the recomputed segment, then outside) moves some values by an ulp (~0.4%).
    scale = max(np.abs(g).max() for g in grads_a)
    for a, b in zip(grads_a, grads_b):
        np.testing.assert_allclose(b, a, rtol=2e-2, atol=2e-3 * scale)


def test_emulated_16_bit_precision_is_announced(monkeypatch):
    """Without AMX / AVX512-BF16 a bf16 run is emulated (a full step was ~9x slower than fp32): say so."""
    from depthnet import precision as train_module

    monkeypatch.setattr(train_module.tf.config, "list_physical_devices", lambda kind=None: [])
    monkeypatch.setattr(train_module, "cpu_isa", lambda: ["avx2", "fma"])
    assert train_module.precision_warning("fp32") is None
    message = train_module.precision_warning("bf16")
    assert "emulated" in message and "avx2, fma" in message and "--precision=fp32" in message
    assert "emulated" in train_module.precision_warning("fp16")
    monkeypatch.setattr(train_module, "cpu_isa", lambda: ["amx_bf16", "amx_tile", "avx512_bf16", "avx512f"])
    assert train_module.precision_warning("bf16") is None


def test_cpu_isa_reads_the_real_cpu_flags():
    from depthnet.precision import MATRIX_ISA_FLAGS, cpu_isa

    if not os.path.exists("/proc/cpuinfo"):
        pytest.skip("no /proc/cpuinfo on this system")
    with open("/proc/cpuinfo", encoding="utf-8") as f:
        flags = set(next(line for line in f if line.startswith("flags")).split(":", 1)[1].split())
    assert cpu_isa() == [f for f in MATRIX_ISA_FLAGS if f in flags]
