"""pifio lab: set-up, builds, QEMU guests with emulated NVMe PI namespaces, scenario runs.

Layers, each importing only those below it (tests/lab/test_layers.py):
  core -> model -> kernels -> toolchain -> guest -> runs -> targets -> ab -> commands -> cli
"""
