"""Pinhole camera intrinsics (NYU Depth V2 Kinect defaults) and their rescaling."""

from __future__ import annotations

import dataclasses


@dataclasses.dataclass(frozen=True)
class Intrinsics:
    """Pinhole intrinsics in pixels for an image of `height` x `width`."""

    fx: float
    fy: float
    cx: float
    cy: float
    height: int
    width: int

    def scaled(self, height: int, width: int) -> Intrinsics:
        """Intrinsics of the same camera after resizing the image to `height` x `width`.

        Uses the pixel-centre convention: a pixel centre u maps to (u + 0.5) * s - 0.5.
        """
        sx, sy = width / self.width, height / self.height
        return Intrinsics(
            fx=self.fx * sx,
            fy=self.fy * sy,
            cx=(self.cx + 0.5) * sx - 0.5,
            cy=(self.cy + 0.5) * sy - 0.5,
            height=height,
            width=width,
        )

    def cropped(self, top: int, left: int, height: int, width: int) -> Intrinsics:
        """Intrinsics after cropping a `height` x `width` window at (`top`, `left`)."""
        return Intrinsics(self.fx, self.fy, self.cx - left, self.cy - top, height, width)


# NYU Depth V2 colour camera (toolbox camera_params.m), 480x640.
NYU_INTRINSICS = Intrinsics(fx=518.8579, fy=519.46961, cx=325.58245, cy=253.73617, height=480, width=640)
