"""Pure-numpy building blocks for the applications of a predicted depth map (paper sec. 4.3).

- :mod:`depthnet.apps.imageio`: robust RGB loading, input expansion, 16-bit depth PNGs, atomic writes.
- :mod:`depthnet.apps.visualize`: depth colour maps and side-by-side panels with a colour bar in metres.
- :mod:`depthnet.apps.pointcloud`: back-projection to a 3D point cloud and binary PLY output.
- :mod:`depthnet.apps.bokeh`: layered, halo-free depth-of-field rendering.
- :mod:`depthnet.apps.naming`, :mod:`depthnet.apps.plan`: the output names and the checked output plan of
  depthnet-predict (every path decided before any work, never onto an input or an existing file).

Only :mod:`depthnet.apps.outputs` imports TensorFlow and :mod:`depthnet.apps.video` the optional video packages;
the others are numpy only, cheap to import and test.
"""
