"""./pifio kernel build --base 7.3: a bootable bzImage + meta.json, cached."""
import json
import sys
import time

from kcommon import need_build_tools

need_build_tools()
from lab.kernels import build as K  # noqa: E402

t0 = time.monotonic()
out = K.build("7.3")
t1 = time.monotonic()
meta = json.loads((out / "meta.json").read_text())
print(f"build: {out} release {meta['release']} in {t1 - t0:.0f} s (build_seconds {meta['build_seconds']})")
bad = []
if not (out / "bzImage").stat().st_size > 1 << 20:
    bad.append("bzImage smaller than 1 MiB")
for k in ("base", "release", "config_sha256", "key", "series"):
    if k not in meta:
        bad.append(f"meta.json lacks {k}")
if meta.get("config_mismatches"):
    bad.append(f"config fragment not honoured: {meta['config_mismatches']}")
cfg = (out / "config").read_text()
for sym in ("CONFIG_BLK_DEV_NVME=y", "CONFIG_BLK_DEV_INTEGRITY=y", "CONFIG_BLK_DEV_DM=y", "CONFIG_DM_CRYPT=y",
            "CONFIG_DM_INTEGRITY=y", "CONFIG_IO_URING=y", "CONFIG_SYSVIPC=y", "CONFIG_VIRTIO_BLK=y"):
    if sym not in cfg:
        bad.append(f"{sym} missing from .config")
t2 = time.monotonic()
again = K.build("7.3")
if again != out or time.monotonic() - t2 > 30:
    bad.append("second build was not a cache hit")
if bad:
    print("\n".join("FAIL " + b for b in bad))
    sys.exit(1)
print("ok")
