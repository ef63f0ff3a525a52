"""Fault matrix of issue 11 (train / eval / export / predict / serving half): one test per case, each
failing on the code before the fix (checked by running these files against commit 59565a2).
The cases are spread over files by area, each under 400 lines (F = test_faults.py,
FS = test_faults_serving.py, FT = test_faults_train.py):

- 1: stems collide: a.jpg, a.png, a_2.png
    before: two inputs written to `a_2_*`
    after: a, a_3, a_2: one set each
    test: F::test_colliding_stems_get_one_output_each
- 1: --output_dir = input folder, scene_depth.png is ground truth
    before: overwritten, exit 0
    after: never written; existing non-input files refused
    test: F::test_outputs_never_land_on_an_input_file
- 1: outputs exist already
    before: silently replaced
    after: refused, nothing written; `--overwrite` replaces
    test: F::test_existing_outputs_are_refused_unless_overwrite
- 3: truncated latest checkpoint, train
    before: `IndexError: Read less bytes than requested`
    after: warning names it, resumes from ckpt-1
    test: FT::test_truncated_latest_checkpoint_is_named_and_training_resumes_from_an_intact_one
- 3: same, depthnet-export / depthnet-eval
    before: traceback, exit 1
    after: one `error:` line: the file + intact checkpoints, exit 2
    test: FT::test_export_names_the_corrupt_checkpoint_and_the_intact_ones,
          FT::test_eval_verifies_checksums_and_names_a_corrupt_checkpoint
- 4: huge LR: finite step with exploded weights, then NaN
    before: names ckpt-3 (exploded) as last good
    after: keeps ckpt-2, moves ckpt-3 to rejected/, suggests --dfe_lr=...
    test: FT::test_non_finite_stop_keeps_the_last_sane_checkpoint_and_says_how_to_resume
- 5: SIGTERM to depthnet-train
    before: killed (-15), nothing saved
    after: checkpoint saved, one line, exit 143
    test: FT::test_sigterm_saves_a_checkpoint_and_exits_cleanly
- 8: all-zero manifest checksums, train
    before: trains, exit 0
    after: error names the shard before anything is written
    test: FT::test_wrong_checksum_stops_training_before_anything_is_written
- 8: corrupt shard bytes, `--verify=off`
    before: DataLossError naming no file
    after: error names the shard
    test: FT::test_a_corrupt_shard_read_without_verification_is_named
- 8: wrong checksum, depthnet-eval
    before: evaluates, exit 0
    after: one `error:` line naming the shard, exit 2
    test: FT::test_eval_verifies_checksums_and_names_a_corrupt_checkpoint
- 10: 49 MP PNG (~50 KB) to serving_bytes
    before: decoded and run
    after: refused from the header, before decoding
    test: FS::test_an_image_over_the_pixel_cap_is_refused_before_it_is_decoded
- 10: empty batch / 4 channels to serving_default
    before: `Incompatible shapes` inside the network
    after: explicit messages
    test: FS::test_serving_default_says_what_is_wrong_with_an_empty_batch_or_four_channels
- 10: too-small image, tiny model
    before: "e.g. 39x52" (the full model's)
    after: "e.g. 12x14" (computed)
    test: FS::test_the_minimum_size_message_is_computed_for_the_model
- 11: export folder mode; hidden folders of a killed export
    before: 0700; left forever
    after: 0777 & ~umask; cleaned (a live export's kept)
    test: FS::test_export_folder_has_normal_permissions_and_stale_temporaries_are_cleaned
- 12: missing manifest / other model / missing shards, train
    before: config.json written first
    after: one `error:` line each, nothing written
    test: FT::test_train_input_errors_are_one_line_and_write_nothing
- 13: depthnet-eval --data_dir=<data root>
    before: hint `--split=data`
    after: `--data_dir=<root>/test`
    test: FT::test_eval_on_the_data_root_suggests_a_real_split

Issue 26, items 6, 8, 9 (parts), 10 (D = tests/data, P = tests/data_prep, C = tests/cli, E = tests/evaluation):
- 6: 10000x10000 PNG (316 KB) / WebP (4 KB) / JPEG / GIF / TIFF / BMP header to predict's and prepare's decoder
    before: decoded (peak 1.0-1.8 GB in predict's decode, 1.6-2.4 GB in prepare, which never refused it)
    after: refused from the header, peak ~40 MB
    test: D/test_decode_limits.py::test_a_huge_image_is_refused_from_its_header_by_predict_and_prepare
- 6: 10000x10000 WebP, a GIF frame over its screen, 270 MP of GIF frames, animated WebP, TIFF to serving_bytes
    before: decoded (+4.0 GB for the WebP and the GIF), served, the process aborted (heap corruption), TF's
        "Unknown image file format"
    after: refused from the headers (+~30 MB), one message each
    test: FS::test_serving_bytes_refuses_huge_webp_gif_and_unread_formats_from_their_headers
- 8: manifest lists ../outside/x.tfrecord (right sha256), or num_frames=-1, depth_scale=0, ...
    before: verified and read; taken
    after: one error naming the manifest
    test: D/test_manifest.py
- 9: symlinked split folder + --overwrite (or an input changed)
    before: the user's files moved out of the link target, `Cannot call rmtree on a symbolic link` on every run
    after: refused, nothing moved; a `.<split>.replaced` link left by the old code is refused too
    test: P/test_linked_split.py
- 9: 8-bit PNG predictions to depthnet-eval --predictions
    before: read as value x 257 and scored (abs_rel 2.1)
    after: one line: a depth PNG must be 16-bit single-channel
    test: E/test_scoring.py::test_8_bit_and_colour_png_predictions_are_refused_from_their_header
- 10: depthnet-prepare's stderr
    before: TF C++ start-up lines (flag definition imported TF; each --workers process too) and absl prefixes
    after: only `depthnet-prepare: ...` lines unless --verbose; `common.quiet_native_stderr(patterns)`
    test: P/test_cli.py::test_stderr_holds_only_the_tools_own_lines_unless_verbose, C/test_common.py
"""

import json
import os

import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

from depthnet.apps.outputs import run_predict
from depthnet.errors import InputError
from depthnet.inference import Predictor


def _constant_predictor(value=2.0):
    def fn(images):
        return tf.fill(tf.concat([tf.shape(images)[:3], [1]], 0), value)

    return Predictor(fn)


def _image(path, value):
    Image.fromarray(np.full((60, 80, 3), value, np.uint8)).save(path)


def _predict(inputs, out, **kw):
    paths = [str(p) for p in inputs]
    return run_predict(paths, str(out), _constant_predictor(), progress=False, log=lambda s: None, **kw)


# ------------------------------------------------------------------------------------------- item 1: predict


def test_colliding_stems_get_one_output_each(tmp_path):
    for name, value in (("a.jpg", 10), ("a.png", 20), ("a_2.png", 30)):
        _image(tmp_path / name, value)
    summary = _predict([tmp_path], tmp_path / "out")
    stems = {os.path.basename(r["input"]): os.path.basename(r["outputs"]["npy"]) for r in summary["images"]}
    # a_2.png keeps its own name; the second "a" takes the first free one.
    assert stems == {"a.jpg": "a_depth.npy", "a_2.png": "a_2_depth.npy", "a.png": "a_3_depth.npy"}
    assert len(list((tmp_path / "out").glob("*_depth.npy"))) == 3


def test_outputs_never_land_on_an_input_file(tmp_path):
    _image(tmp_path / "scene.png", 50)
    truth = np.full((60, 80), 1234, np.uint16)
    Image.fromarray(truth).save(tmp_path / "scene_depth.png")  # the user's ground truth
    before = (tmp_path / "scene_depth.png").read_bytes()
    with pytest.raises(InputError, match="scene_depth.png"):  # a file that is not an input: refused
        _predict([tmp_path / "scene.png"], tmp_path)
    # The folder as input (--output_dir = the input folder): scene_depth.png is an input, never written,
    # even with overwrite.
    summary = _predict([tmp_path], tmp_path, overwrite=True)
    assert (tmp_path / "scene_depth.png").read_bytes() == before
    written = {os.path.basename(r["input"]): r["outputs"]["depth_png"] for r in summary["images"]}
    assert written == {
        "scene.png": str(tmp_path / "scene_2_depth.png"),
        "scene_depth.png": str(tmp_path / "scene_depth_depth.png"),
    }


def test_existing_outputs_are_refused_unless_overwrite(tmp_path):
    _image(tmp_path / "x.png", 70)
    out = tmp_path / "out"
    _predict([tmp_path / "x.png"], out)
    (out / "x_depth.npy").write_bytes(b"mine")
    with pytest.raises(InputError, match="already exist.*x_depth.npy.*overwrite"):
        _predict([tmp_path / "x.png"], out)
    assert (out / "x_depth.npy").read_bytes() == b"mine"  # nothing was written
    _predict([tmp_path / "x.png"], out, overwrite=True)
    np.testing.assert_array_equal(np.load(out / "x_depth.npy"), np.full((60, 80), 2.0, np.float32))
    assert json.loads((out / "predictions.json").read_text())["num_ok"] == 1
