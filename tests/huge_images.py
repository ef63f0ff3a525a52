"""Small files that decode to huge images (issue 26 item 6), and a subprocess that reports its peak memory.

The 10000x10000 files (100 MP, over the 48 MP limit) are flat colour, so they are small: PNG ~316 KB, lossless
WebP ~4 KB, lossy WebP ~180 KB, JPEG ~1.5 MB, GIF ~75 KB, TIFF (deflate) ~465 KB. They are written by PIL in a
subprocess (the pixels take ~1 GB while saving). A BMP of that size would be 300 MB, so its header is written
by hand (a header is all a check before decoding reads). ``screen16.gif`` claims a 16x16 screen but holds one
10000x10000 frame (PIL and TensorFlow both decode it at the frame's size); ``anim.webp`` is an animated WebP
(3 frames of 64x48); ``frames.gif`` holds 30 frames of 3000x3000 (270 MP in all, 9 MP each).
"""

import json
import os
import struct
import subprocess
import sys
import textwrap

from helpers import REPO

SIDE = 10000
HUGE = ("huge.png", "huge.webp", "huge_lossy.webp", "huge.jpg", "huge.gif", "huge.tif")

_WRITE = """
import sys
from PIL import Image
folder = sys.argv[1]
im = Image.new("RGB", ({side}, {side}), (120, 130, 140))
im.save(folder + "/huge.png", optimize=True)
im.save(folder + "/huge.webp", lossless=True)
im.save(folder + "/huge_lossy.webp", quality=50)
im.save(folder + "/huge.jpg", quality=50)
im.save(folder + "/huge.gif")
im.save(folder + "/huge.tif", compression="tiff_deflate")
del im
frames = [Image.new("RGB", (64, 48), (80 * i, 100, 50)) for i in range(3)]
frames[0].save(folder + "/anim.webp", save_all=True, append_images=frames[1:], lossless=True, duration=50)
frames = [Image.new("P", (3000, 3000), i) for i in range(30)]
frames[0].save(folder + "/frames.gif", save_all=True, append_images=frames[1:], duration=50)
"""


def _bmp_header(width: int, height: int) -> bytes:
    """BITMAPFILEHEADER + BITMAPINFOHEADER of a 24-bit BMP, without its (width * height * 3 byte) pixels."""
    pixels = width * height * 3
    info = struct.pack("<IiiHHIIiiII", 40, width, height, 1, 24, 0, pixels, 2835, 2835, 0, 0)
    return b"BM" + struct.pack("<IHHI", 54 + pixels, 0, 0, 54) + info


def write_huge_images(folder: str) -> dict[str, str]:
    """{name: path} of the files above, written into `folder`."""
    subprocess.run([sys.executable, "-c", _WRITE.format(side=SIDE), folder], check=True, timeout=300)
    with open(os.path.join(folder, "huge.bmp"), "wb") as f:
        f.write(_bmp_header(SIDE, SIDE))
    with open(os.path.join(folder, "huge.gif"), "rb") as f:
        gif = bytearray(f.read())
    gif[6:10] = struct.pack("<HH", 16, 16)  # the logical screen; the frame's descriptor still says 10000x10000
    with open(os.path.join(folder, "screen16.gif"), "wb") as f:
        f.write(gif)
    names = HUGE + ("huge.bmp", "screen16.gif", "anim.webp", "frames.gif")
    return {name: os.path.join(folder, name) for name in names}


# The child's peak RSS: VmHWM (of its own address space) where /proc has it; ru_maxrss otherwise, which on Linux
# starts at the RSS of the parent that forked it (a pytest process holding TensorFlow: ~700 MB).
_PEAK = """
def peak_mb():
    try:
        with open("/proc/self/status") as f:
            return next(int(line.split()[1]) for line in f if line.startswith("VmHWM:")) / 1024
    except (OSError, StopIteration):
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
"""


def peak_run(code: str, *args: str, timeout: int = 300) -> dict:
    """Runs `code` (which sets a dict `out`; `peak_mb()` is defined) in a fresh Python; returns `out` with
    `peak_mb`, its peak RSS. A crash (TensorFlow aborting on a bad file) comes back as
    {"crashed": <status>, "stderr": ...}."""
    body = textwrap.indent(textwrap.dedent(code), "    ")
    program = f"import json, resource, sys\n{_PEAK}\nout = {{}}\ntry:\n{body}\nfinally:\n" + textwrap.indent(
        "out['peak_mb'] = peak_mb()\nprint('RESULT ' + json.dumps(out), flush=True)\n", "    "
    )
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    res = subprocess.run(
        [sys.executable, "-c", program, *args], capture_output=True, text=True, cwd=REPO, env=env, timeout=timeout
    )
    lines = [line for line in res.stdout.splitlines() if line.startswith("RESULT ")]
    if res.returncode != 0 or not lines:
        return {"crashed": res.returncode, "stderr": res.stderr[-2000:]}
    return json.loads(lines[-1][len("RESULT ") :])
