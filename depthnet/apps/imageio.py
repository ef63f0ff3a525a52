"""Image input/output for the depth applications: RGB loading, input expansion, 16-bit depth PNGs.

Conventions
-----------
- :func:`load_rgb` always returns a ``uint8`` H x W x 3 array in RGB order, upright (EXIF orientation applied), by
  THE decoding rule of :mod:`depthnet.data.decode` (shared with depthnet-prepare and the ``serving_bytes`` signature).
  - Alpha (RGBA, LA, PA, palette with transparency) is composited **on white**: fully transparent pixels often
    hold undefined colours (frequently black), and white is what image viewers and browsers show.
    Opaque images are unchanged by the composite.
  - 16-bit samples become 8-bit by their bit depth, ``v8 = v16 >> 8`` (65535 -> 255, 32768 -> 128):
    that is what Pillow itself does for 16-bit colour PNGs, and using the same rule for 16-bit grayscale makes a grey
    picture load identically whichever way it was stored. Values are never clipped at 255.
- Depth PNGs are single-channel 16-bit, ``value / scale`` metres (``scale=1000``: millimetres, as NYU), 0 = invalid;
  the file says so itself in a tEXt chunk (``depth_units: millimetres; 0 = no depth``).
- Every PNG depthnet writes carries the tEXt chunk ``Software: depthnet`` (:func:`png_text`), by which
  :func:`is_depthnet_png` tells a tool's earlier outputs from a user's images.
- Every writer in :mod:`depthnet.apps` goes through :func:`atomic_write`: a temporary file in the destination folder is
  written, flushed, fsync'ed and renamed over the target, so an interrupted run never leaves a truncated output.
"""

from __future__ import annotations

import contextlib
import glob
import io
import os
import tempfile
from collections.abc import Iterator, Sequence
from typing import IO

import numpy as np
from PIL import Image, ImageOps, PngImagePlugin

from depthnet.data.decode import decode_bytes, open_image
from depthnet.errors import InputError

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".ppm", ".pgm", ".pnm", ".bmp", ".tif", ".tiff", ".webp")
DEPTH_PNG_MAX = 65535  # largest storable uint16 value; anything above becomes 0 (invalid)

_GLOB_CHARS = set("*?[")
SOFTWARE = "depthnet"  # the tEXt "Software" value of every PNG depthnet writes


def is_glob(item: str) -> bool:
    """Whether an input is a glob pattern (``*``, ``?``, ``[``)."""
    return bool(_GLOB_CHARS & set(item))


def png_text(**text: str) -> PngImagePlugin.PngInfo:
    """tEXt chunks for a PNG depthnet writes: ``Software: depthnet`` and the given ``key: value`` pairs."""
    info = PngImagePlugin.PngInfo()
    for key, value in {"Software": SOFTWARE, **text}.items():
        info.add_text(key, value)
    return info


def is_depthnet_png(path: str | os.PathLike) -> bool:
    """Whether ``path`` is a PNG depthnet wrote (its ``Software`` chunk; read from the header, not decoded)."""
    try:
        with Image.open(path) as img:
            return img.format == "PNG" and img.info.get("Software") == SOFTWARE
    except (OSError, ValueError, SyntaxError):
        return False


# ----------------------------------------------------------------------------------------------------------------------
# Atomic writes
# ----------------------------------------------------------------------------------------------------------------------
def _current_umask() -> int:
    """The process umask, read from /proc when possible (os.umask would briefly change it for all threads)."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except OSError:
        pass
    umask = os.umask(0o022)
    os.umask(umask)
    return umask


@contextlib.contextmanager
def atomic_write(path: str | os.PathLike, mode: str = "wb") -> Iterator[IO]:
    """Open a temporary file beside ``path`` and rename it onto ``path`` only if the block finishes.

    The parent folder is created if needed. On an exception the temporary file is removed and ``path`` is left
    untouched (an older version of it survives intact). The final file gets the usual ``0666 & ~umask`` permissions.
    """
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix="." + os.path.basename(path) + ".", suffix=".tmp", dir=folder)
    try:
        with os.fdopen(fd, mode) as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o666 & ~_current_umask())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.remove(tmp)
        raise


def save_image(path: str | os.PathLike, image: Image.Image, format: str | None = None, **params) -> None:
    """Save a PIL image atomically; the format comes from the extension of ``path`` unless given."""
    if format is None:
        ext = os.path.splitext(os.fspath(path))[1].lower()
        format = Image.registered_extensions().get(ext)
        if format is None:
            raise ValueError(
                f"cannot tell the image format of {os.fspath(path)!r} from its extension; use .png or .jpg"
            )
    with atomic_write(path) as f:
        image.save(f, format=format, **params)


# ----------------------------------------------------------------------------------------------------------------------
# RGB loading
# ----------------------------------------------------------------------------------------------------------------------
def _read_bytes(path: str | os.PathLike) -> bytes:
    path = os.fspath(path)
    if not os.path.exists(path):
        raise FileNotFoundError(f"image file not found: {path!r}; check the path (it is relative to {os.getcwd()!r})")
    if os.path.isdir(path):
        raise IsADirectoryError(f"{path!r} is a folder, not an image; use find_images() to expand folders")
    with open(path, "rb") as f:
        return f.read()


def _open_decoded(path: str | os.PathLike) -> Image.Image:
    """Open and fully decode an image, turning any decoder failure into a ValueError that names the file."""
    data = _read_bytes(path)
    try:
        img = open_image(io.BytesIO(data), os.fspath(path))  # over the pixel limit: refused from the header
        img.load()  # decode now: truncated/corrupt data fails here, not later
        img = ImageOps.exif_transpose(img)
    except InputError:
        raise
    except Exception as e:  # PIL raises UnidentifiedImageError, OSError, SyntaxError, zlib.error, ... for bad data
        raise ValueError(
            f"cannot read {os.fspath(path)!r} as an image ({type(e).__name__}: {e}); "
            "the file is not an image or is corrupt/truncated - re-export or re-download it"
        ) from None
    return img


def load_rgb(path: str | os.PathLike) -> np.ndarray:
    """Read an image file (PNG/JPEG/PPM/BMP/TIFF/...) as an upright uint8 H x W x 3 RGB array.

    THE decoding rule of :mod:`depthnet.data.decode` (the same pixels as training data and ``serving_bytes``):
    grayscale, palette, CMYK, alpha (composited on white), 16-bit grayscale / colour (``v >> 8``) and the EXIF
    orientation tag. Raises ``FileNotFoundError`` for a missing file and ``ValueError`` naming the file for data that
    is not an image, is corrupt or truncated, or has an unsupported sample type (float / 32-bit integer).
    """
    return decode_bytes(_read_bytes(path), os.fspath(path))


# ----------------------------------------------------------------------------------------------------------------------
# Input expansion
# ----------------------------------------------------------------------------------------------------------------------
def _is_image_name(name: str) -> bool:
    return name.lower().endswith(IMAGE_EXTENSIONS)


def find_images(inputs: Sequence[str | os.PathLike], recursive: bool = False) -> list[str]:
    """Expand files, folders and glob patterns into a list of image paths.

    - An existing file is kept as given, whatever its extension (:func:`load_rgb` checks its content).
    - A folder contributes its image files (extension in ``IMAGE_EXTENSIONS``, case-insensitive), sorted by name;
      sub-folders only with ``recursive=True``. Hidden files (``.name``) are skipped.
    - A glob pattern (``*``, ``?``, ``[``) contributes the sorted image files it matches (``**`` with ``recursive``).
    The order of ``inputs`` is kept and duplicates are dropped. An input that yields no image raises
    ``FileNotFoundError`` naming that input.
    """
    if isinstance(inputs, (str, os.PathLike)):
        inputs = [inputs]
    if not inputs:
        raise ValueError("no inputs given; pass image files, folders or glob patterns such as 'photos/*.jpg'")
    found: list[str] = []
    seen: set[str] = set()
    for item in inputs:
        item = os.fspath(item)
        if os.path.isfile(item):
            matches = [item]
        elif os.path.isdir(item):
            if recursive:
                matches = []
                for root, dirs, files in os.walk(item):
                    dirs[:] = sorted(d for d in dirs if not d.startswith("."))
                    matches += [
                        os.path.join(root, f) for f in sorted(files) if not f.startswith(".") and _is_image_name(f)
                    ]
            else:
                matches = [
                    os.path.join(item, f)
                    for f in sorted(os.listdir(item))
                    if not f.startswith(".") and _is_image_name(f) and os.path.isfile(os.path.join(item, f))
                ]
            if not matches:
                raise FileNotFoundError(
                    f"folder {item!r} holds no image files ({', '.join(IMAGE_EXTENSIONS)})"
                    + ("" if recursive else "; sub-folders are not searched unless recursive=True")
                )
        elif is_glob(item):
            matches = sorted(p for p in glob.glob(item, recursive=recursive) if os.path.isfile(p) and _is_image_name(p))
            if not matches:
                raise FileNotFoundError(f"glob pattern {item!r} matched no image files")
        else:
            raise FileNotFoundError(f"input {item!r} does not exist (not a file, folder or glob pattern)")
        for m in matches:
            key = os.path.normpath(os.path.abspath(m))
            if key not in seen:
                seen.add(key)
                found.append(m)
    return found


# ----------------------------------------------------------------------------------------------------------------------
# 16-bit depth PNGs
# ----------------------------------------------------------------------------------------------------------------------
def depth_to_uint16(depth_m: np.ndarray, scale: float = 1000.0) -> np.ndarray:
    """Quantise a depth map in metres to the uint16 PNG encoding (see :func:`save_depth_png16` for the rules)."""
    depth = np.asarray(depth_m, dtype=np.float64)
    if depth.ndim == 3 and depth.shape[2] == 1:
        depth = depth[..., 0]
    if depth.ndim != 2:
        raise ValueError(f"depth must be an H x W array in metres, got shape {depth.shape}")
    if not (np.isfinite(scale) and scale > 0):
        raise ValueError(f"scale must be a positive number of stored units per metre, got {scale}")
    with np.errstate(invalid="ignore", over="ignore"):
        stored = np.rint(depth * scale)
        valid = np.isfinite(stored) & (stored > 0) & (stored <= DEPTH_PNG_MAX)
    return np.where(valid, stored, 0).astype(np.uint16)


def depth_units(scale: float = 1000.0) -> str:
    """What a stored value of a depth PNG means: ``millimetres; 0 = no depth`` for ``scale=1000``."""
    unit = "millimetres" if scale == 1000.0 else f"1/{scale:g} metre"
    return f"{unit}; 0 = no depth"


def save_depth_png16(path: str | os.PathLike, depth_m: np.ndarray, scale: float = 1000.0) -> np.ndarray:
    """Write a depth map in metres as a 16-bit grayscale PNG holding ``round(depth * scale)`` (mm for 1000), atomically,
    with the tEXt chunk ``depth_units`` (:func:`depth_units`).

    Rules: 0 means invalid. Non-finite, zero or negative depths are written as 0. Depths whose stored value would exceed
    65535 (65.535 m at ``scale=1000``) are also written as 0 rather than clipped: a clipped value would be a wrong but
    valid-looking depth, while 0 is honestly "unknown". (NYU depth stops at 10 m, so this never triggers there.)
    Depths below half a unit (< 0.5 mm) round to 0 and so become invalid too. Returns the stored uint16 array.
    """
    stored = depth_to_uint16(depth_m, scale)
    save_image(path, Image.fromarray(stored), format="PNG", pnginfo=png_text(depth_units=depth_units(scale)))
    return stored


def load_depth_png16(path: str | os.PathLike, scale: float = 1000.0) -> np.ndarray:
    """Read a 16-bit depth PNG as float32 metres (``value / scale``; 0 stays 0 = invalid).

    Raises ``ValueError`` if the file is not a single-channel 16-bit image (e.g. an 8-bit preview PNG).
    """
    img = _open_decoded(path)
    if not (img.mode.startswith("I;16") or img.mode == "I"):
        raise ValueError(
            f"{os.fspath(path)!r} is a mode-{img.mode} image, not a single-channel 16-bit depth PNG; "
            "8-bit or colour depth previews lose the metric values - use the original 16-bit file"
        )
    stored = np.asarray(img).astype(np.int64)
    if stored.size and (stored.min() < 0 or stored.max() > DEPTH_PNG_MAX):
        raise ValueError(f"{os.fspath(path)!r} holds values outside 0..65535; it is not a 16-bit depth PNG")
    return (stored / float(scale)).astype(np.float32)
