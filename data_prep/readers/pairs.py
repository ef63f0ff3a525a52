"""``pairs``: RGB + 16-bit depth image pairs listed by a CSV or found in a folder."""

from __future__ import annotations

import csv
import os
import re
from typing import Any, Optional

import numpy as np

from data_prep.readers import plausible
from data_prep.readers.base import (
    DEPTH_ENCODINGS,
    BadInputError,
    Item,
    Reader,
    SourceError,
    natural_key,
    require_input,
)
from data_prep.readers.images import read_depth, read_depth_u16, read_rgb, sunrgbd_to_metres
from depthnet.data.decode import open_image
from depthnet.data.records import Frame

RGB_EXTS = (".png", ".jpg", ".jpeg", ".ppm", ".bmp")
DEPTH_EXTS = (".png", ".pgm", ".tif", ".tiff")
_RGB_WORDS = {"rgb", "image", "images", "img", "color", "colour", "colors", "im"}
_DEPTH_WORDS = {"depth", "depths", "sync", "dep", "dpt", "gt"}
_RGB_DIRS = ("rgb", "image", "images", "img", "imgs", "color", "colour", "colors")
_DEPTH_DIRS = ("depth", "depths", "sync_depth", "annotations", "gt", "depth_gt")
_NYU_RAW = re.compile(r"^([rd])-(\d+(?:\.\d+)?)-(\d+)\.(ppm|pgm)$", re.IGNORECASE)
_KINECT_SOURCE = "NYU raw Kinect disparity .pgm (little-endian): metres = 351.3 / (1092.5 - raw), 2047 = invalid"


def _tokens(stem: str) -> list[str]:
    return [t for t in re.split(r"[_\-\s.]+", stem.lower()) if t]


def _pair_key(stem: str, drop: set[str]) -> tuple:
    return tuple(int(t) if t.isdigit() else t for t in _tokens(stem) if t not in drop)


def _role(path: str) -> Optional[str]:
    """'rgb' / 'depth' for a file beside its partner, from its name (or, for an unnamed PNG, its pixel mode)."""
    stem, ext = os.path.splitext(os.path.basename(path))
    ext = ext.lower()
    if ext not in RGB_EXTS + DEPTH_EXTS:
        return None
    toks = set(_tokens(stem))
    if toks & _DEPTH_WORDS and ext in DEPTH_EXTS:
        return "depth"
    if toks & _RGB_WORDS and ext in RGB_EXTS:
        return "rgb"
    if ext in (".jpg", ".jpeg", ".ppm", ".bmp"):
        return "rgb"
    if ext in (".pgm", ".tif", ".tiff"):
        return "depth"
    try:
        with open_image(path) as img:  # the header only (a huge one is refused later, by read_rgb, naming it)
            return "depth" if img.mode.startswith("I") else "rgb"
    except Exception:
        return "rgb"


def _csv_columns(header: list[str]) -> Optional[tuple[int, int]]:
    """(rgb column, depth column) named by a header row; None when the first row is not a header."""
    if any(c.lower().endswith(RGB_EXTS + DEPTH_EXTS) for c in header):
        return None
    names = [c.lower() for c in header]
    depth_cols = [i for i, c in enumerate(names) if "depth" in c or c in ("gt", "label")]
    rgb_words = ("image", "rgb", "img", "color")
    rgb_cols = [i for i, c in enumerate(names) if i not in depth_cols and any(w in c for w in rgb_words)]
    if not depth_cols:
        return 0, 1
    depth_col = depth_cols[0]
    return (rgb_cols[0] if rgb_cols else next(i for i in range(len(names)) if i != depth_col)), depth_col


def _csv_base(csv_path: str, first_rgb: str) -> str:
    """The folder the CSV's relative paths start from: its own, or (DenseDepth) a parent where they exist."""
    csv_dir = os.path.dirname(os.path.abspath(csv_path))
    if first_rgb and not os.path.isabs(first_rgb) and not os.path.exists(os.path.join(csv_dir, first_rgb)):
        for parent in (os.path.dirname(csv_dir), os.path.dirname(os.path.dirname(csv_dir))):
            if os.path.exists(os.path.join(parent, first_rgb)):
                return parent
    return csv_dir


def _role_files(folder: str, exts: tuple[str, ...], role: str, groups: dict[str, dict[str, list[str]]]) -> None:
    """Adds the files under `folder` ending in `exts` to `groups[<sub-folder>][role]`."""
    for d2, _, files in os.walk(folder):
        subrel = os.path.relpath(d2, folder).replace(os.sep, "/")
        for name in files:
            if name.lower().endswith(exts):
                groups.setdefault(subrel, {"rgb": [], "depth": []})[role].append(os.path.join(d2, name))


class PairsReader(Reader):
    """RGB + 16-bit depth image pairs from a CSV or a folder.

    - CSV: header ``image_path,depth_path`` (any names; the column naming 'depth' is the depth) or two
      unnamed columns ``rgb,depth``; relative paths are resolved against the CSV's folder (or, as in
      DenseDepth's ``data/nyu2_test.csv``, against its parent when that is where they exist).
    - Folder (searched recursively): an ``rgb/`` (or ``image(s)/``, ``color/``) folder next to a
      ``depth/`` (or ``sync_depth/``, ``annotations/``, ``gt/``) folder, or files side by side. Files
      pair by their name without the role words, e.g. ``rgb_00050.jpg`` <-> ``sync_depth_00050.png``,
      ``image_3.png`` <-> ``depth_3.png``, ``rgb.png`` <-> ``depth.png``; NYU raw dumps
      ``r-<time>-<n>.ppm`` / ``d-<time>-<n>.pgm`` pair each depth with the nearest-in-time RGB.
      The scene is the sub-folder (the input folder's name at the top level).
    """

    name = "pairs"

    def __init__(
        self, path: Optional[str], depth_scale: float = 1000.0, depth_encoding: str = "scaled", split: str = ""
    ):
        self.path = require_input(path, "a CSV of image/depth paths or a folder of pairs")
        if depth_encoding not in DEPTH_ENCODINGS:
            raise SourceError(f"depth_encoding must be one of {DEPTH_ENCODINGS}, got {depth_encoding!r}")
        if not depth_scale or depth_scale <= 0:
            raise SourceError(f"depth_scale must be > 0, got {depth_scale}")
        self.depth_scale, self.depth_encoding = float(depth_scale), depth_encoding
        self.source_split = "(all pairs)"
        self.unpaired: list[str] = []

    # -- listing
    def items(self) -> list[Item]:
        if os.path.isfile(self.path):
            if not self.path.lower().endswith((".csv", ".txt")):
                raise SourceError(f"{self.path}: source 'pairs' takes a folder or a .csv of image,depth paths")
            return self._csv_items()
        return self._folder_items()

    def _csv_items(self) -> list[Item]:
        with open(self.path, newline="", encoding="utf-8-sig") as f:
            rows = [(n + 1, r) for n, r in enumerate(csv.reader(f)) if r and any(c.strip() for c in r)]
        if not rows:
            raise SourceError(f"{self.path} is empty")
        rgb_col, depth_col = 0, 1
        columns = _csv_columns([c.strip() for c in rows[0][1]])
        if columns is not None:  # a header row
            rgb_col, depth_col = columns
            rows = rows[1:]
        if not rows:
            raise SourceError(f"{self.path} lists no pairs")
        base = _csv_base(self.path, rows[0][1][rgb_col].strip() if len(rows[0][1]) > rgb_col else "")
        default_scene = os.path.splitext(os.path.basename(self.path))[0]
        out = []
        for line, row in rows:
            if len(row) <= max(rgb_col, depth_col):
                bad = ("bad", f"row has {len(row)} columns, expected 2")
                out.append(Item(default_scene, f"line{line}", bad, f"{self.path}:{line}"))
                continue
            rel_rgb, rel_depth = row[rgb_col].strip(), row[depth_col].strip()
            rgb, depth = os.path.join(base, rel_rgb), os.path.join(base, rel_depth)
            scene = os.path.dirname(rel_rgb).replace(os.sep, "/") or default_scene
            out.append(Item(scene, rel_rgb.replace(os.sep, "/"), (rgb, depth), f"{rgb} + {depth}"))
        return out

    def _folder_items(self) -> list[Item]:
        root = os.path.abspath(self.path)
        top = os.path.basename(root.rstrip(os.sep)) or "pairs"
        out: list[Item] = []

        def scene_of(*parts: str) -> str:
            rel = "/".join(p for p in parts if p and p != ".")
            return rel or top

        for dirpath, dirnames, filenames in os.walk(root):
            dirnames.sort(key=natural_key)
            rel = os.path.relpath(dirpath, root).replace(os.sep, "/")
            lower = {d.lower(): d for d in dirnames}
            rgb_dir = next((lower[d] for d in _RGB_DIRS if d in lower), None)
            depth_dir = next((lower[d] for d in _DEPTH_DIRS if d in lower), None)
            if rgb_dir and depth_dir:
                groups: dict[str, dict[str, list[str]]] = {}
                _role_files(os.path.join(dirpath, rgb_dir), RGB_EXTS, "rgb", groups)
                _role_files(os.path.join(dirpath, depth_dir), DEPTH_EXTS, "depth", groups)
                for subrel in sorted(groups, key=natural_key):
                    out += self._pair_files(groups[subrel]["rgb"], groups[subrel]["depth"], scene_of(rel, subrel))
                dirnames[:] = [d for d in dirnames if d not in (rgb_dir, depth_dir)]
            files = [os.path.join(dirpath, n) for n in filenames]
            roles = {p: _role(p) for p in files}
            rgbs = [p for p in files if roles[p] == "rgb"]
            depths = [p for p in files if roles[p] == "depth"]
            if rgbs or depths:
                out += self._pair_files(rgbs, depths, scene_of(rel))
        return out

    def _pair_files(self, rgbs: list[str], depths: list[str], scene: str) -> list[Item]:
        raw_r = [p for p in rgbs if _NYU_RAW.match(os.path.basename(p))]
        raw_d = [p for p in depths if _NYU_RAW.match(os.path.basename(p))]
        items = self._pair_nyu_raw(raw_r, raw_d, scene) if raw_d else []
        rgbs = [p for p in rgbs if p not in raw_r] if raw_d else rgbs
        depths = [p for p in depths if p not in raw_d]
        by_key: dict[tuple, list[str]] = {}
        for p in depths:
            by_key.setdefault(_pair_key(os.path.splitext(os.path.basename(p))[0], _DEPTH_WORDS), []).append(p)
        used = set()
        root = os.path.abspath(self.path)
        for p in sorted(rgbs, key=lambda q: natural_key(os.path.basename(q))):
            key = _pair_key(os.path.splitext(os.path.basename(p))[0], _RGB_WORDS)
            cands = by_key.get(key, [])
            if len(cands) > 1:
                raise SourceError(f"{p} matches several depth files {sorted(cands)}; keep one per frame")
            if not cands:
                self.unpaired.append(p)
                continue
            used.add(cands[0])
            frame = os.path.relpath(p, root).replace(os.sep, "/")
            items.append(Item(scene, frame, (p, cands[0]), f"{p} + {cands[0]}"))
        self.unpaired += [p for p in depths if p not in used]
        return items

    def _pair_nyu_raw(self, rgbs: list[str], depths: list[str], scene: str) -> list[Item]:
        """NYU raw dump: each depth frame with the RGB frame nearest in time (the toolbox's get_synched_frames)."""

        def stamp(p):
            return float(_NYU_RAW.match(os.path.basename(p)).group(2))

        rgbs = sorted(rgbs, key=stamp)
        times = np.array([stamp(p) for p in rgbs])
        root = os.path.abspath(self.path)
        items = []
        for d in sorted(depths, key=stamp):
            if not len(times):
                self.unpaired.append(d)
                continue
            r = rgbs[int(np.argmin(np.abs(times - stamp(d))))]
            items.append(Item(scene, os.path.relpath(d, root).replace(os.sep, "/"), (r, d), f"{r} + {d}"))
        return items

    # -- loading
    def load(self, item: Item) -> Frame:
        if item.ref[0] == "bad":
            raise BadInputError(item.path, item.ref[1])
        rgb_path, depth_path = item.ref
        rgb = read_rgb(rgb_path)
        depth = read_depth(depth_path, self.depth_encoding, self.depth_scale)
        if depth.shape != rgb.shape[:2]:
            raise BadInputError(
                depth_path,
                f"depth is {depth.shape[0]}x{depth.shape[1]} but its RGB {rgb_path} is "
                f"{rgb.shape[0]}x{rgb.shape[1]} (HxW)",
            )
        return Frame(rgb, depth, item.scene, item.frame)

    def item_files(self, item: Item) -> tuple[str, ...]:
        return () if item.ref[0] == "bad" else tuple(item.ref)

    def depth_hint(self, item: Item) -> str:
        """The decodings of this 16-bit depth file that give plausible depth, with what they give."""
        if item.ref[0] == "bad" or self.depth_encoding == "kinect_raw":
            return ""
        try:
            stored = read_depth_u16(item.ref[1])
        except BadInputError:
            return ""
        options = [("--depth_encoding=sunrgbd", sunrgbd_to_metres(stored))]
        options += [(f"--depth_scale={s:g}", stored / s) for s in (1000.0, 5000.0, 10000.0)]
        now = "--depth_encoding=sunrgbd" if self.depth_encoding == "sunrgbd" else f"--depth_scale={self.depth_scale:g}"
        good = [
            f"{flag} gives {plausible.describe(summary)}"
            for flag, depth in options
            if flag != now and (summary := plausible.depth_summary(depth)) and plausible.plausible(summary)
        ]
        good = good[:1] if good and good[0].startswith("--depth_encoding") else good  # its bit pattern is telling
        return ("likely " + "; or ".join(good)) if good else ""

    def describe(self) -> dict[str, Any]:
        info: dict[str, Any] = {"depth_encoding": self.depth_encoding}
        if self.depth_encoding == "scaled":
            info["input_depth_scale"] = self.depth_scale
            info["depth_source"] = f"16-bit depth images, metres = value / {self.depth_scale:g}"
        elif self.depth_encoding == "sunrgbd":
            info["depth_source"] = "SUN RGB-D depth PNG: metres = ((v >> 3) | (v << 13)) & 0xFFFF / 1000"
        else:
            info["depth_source"] = _KINECT_SOURCE
            info["warning"] = (
                "raw Kinect depth is NOT registered to the RGB (it is in the depth camera's frame and not "
                "undistorted/projected); use it to test decoding, not as per-pixel ground truth"
            )
        if self.unpaired:
            info["unpaired_files"] = len(self.unpaired)
            info["unpaired_examples"] = self.unpaired[:5]
        return info
