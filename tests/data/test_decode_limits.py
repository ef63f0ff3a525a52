"""Issue 26 item 6, predict and prepare: an image over depthnet.inference.MAX_INPUT_PIXELS (48 MP) is refused
from its header, before it is decoded, in every format the tools read (PNG, WebP, JPEG, GIF, BMP, TIFF).
Before: a 316 KB 10000x10000 PNG was decoded (~1 GB peak in depthnet-predict's decode, ~1.6 GB in
depthnet-prepare, which did not refuse it at all) and a 4 KB WebP took ~1.8 GB, before the limit refused it."""

import io
import struct
import zlib

import numpy as np
import pytest
from huge_images import peak_run, write_huge_images
from PIL import Image

from depthnet.data.decode import decode_bytes
from depthnet.errors import InputError

REFUSED = "is 10000x10000 = 100000000 pixels (read from its header, not decoded): image too large: at most 48000000"
PEAK_MB = 400  # a decoded 10000x10000 RGB image alone is 300 MB; Python + numpy + PIL start at ~40 MB

# depthnet-predict and depthnet.load (apps.imageio.load_rgb -> decode_bytes) and depthnet-prepare (read_rgb)
_DECODE = """
from depthnet.apps.imageio import load_rgb
from data_prep.readers.images import read_rgb
path = sys.argv[1]
for name, fn in (("predict", load_rgb), ("prepare", read_rgb)):
    try:
        out[name] = "decoded %s" % (fn(path).shape,)
    except Exception as e:  # predict: InputError (a ValueError); prepare: BadInputError
        out[name] = str(e)
out["tensorflow_imported"] = "tensorflow" in sys.modules
"""


@pytest.fixture(scope="module")
def huge(tmp_path_factory):
    return write_huge_images(str(tmp_path_factory.mktemp("huge")))


@pytest.mark.parametrize("name", ["huge.png", "huge.webp", "huge_lossy.webp", "huge.jpg", "huge.gif", "huge.tif",
                                  "huge.bmp", "screen16.gif"])  # fmt: skip
def test_a_huge_image_is_refused_from_its_header_by_predict_and_prepare(huge, name):
    result = peak_run(_DECODE, huge[name])
    assert REFUSED in result["predict"], result
    assert REFUSED in result["prepare"] and result["prepare"].startswith(huge[name]), result
    assert result["peak_mb"] < PEAK_MB, result  # nothing was decoded
    assert not result["tensorflow_imported"]  # prepare's readers no longer import TensorFlow either


def test_the_limit_is_the_inference_limit_and_exactly_48_mp_passes():
    from depthnet.data.decode import MAX_INPUT_PIXELS, check_pixels
    from depthnet.inference import MAX_INPUT_PIXELS as INFERENCE_LIMIT

    assert MAX_INPUT_PIXELS == INFERENCE_LIMIT == 48_000_000
    check_pixels(6000, 8000)  # exactly the limit
    with pytest.raises(InputError, match="'x.png' is 6001x8000 = 48008000 pixels"):
        check_pixels(6001, 8000, "x.png")


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def test_a_huge_16_bit_depth_png_is_refused_by_prepare_from_its_header(tmp_path):
    """The depth side of prepare (read_depth_u16) reads through the same check: a header-only 16-bit PNG."""
    from data_prep.readers.base import BadInputError
    from data_prep.readers.images import read_depth_u16

    ihdr = struct.pack(">IIBBBBB", 9000, 9000, 16, 0, 0, 0, 0)  # 81 MP, grey, 16 bits; no pixel data follows
    path = tmp_path / "depth.png"
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", ihdr) + _png_chunk(b"IEND", b""))
    with pytest.raises(BadInputError, match="is 9000x9000 = 81000000 pixels .*image too large"):
        read_depth_u16(str(path))


def test_images_within_the_limit_still_decode():
    rgb = np.random.default_rng(0).integers(0, 256, (30, 40, 3), dtype=np.uint8)
    for fmt in ("PNG", "WEBP", "BMP", "TIFF"):
        buf = io.BytesIO()
        Image.fromarray(rgb).save(buf, format=fmt, **({"lossless": True} if fmt == "WEBP" else {}))
        np.testing.assert_array_equal(decode_bytes(buf.getvalue(), f"x.{fmt.lower()}"), rgb)
