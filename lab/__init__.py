"""pifio lab: set-up, builds, QEMU guests with emulated NVMe PI namespaces, scenario runs."""
