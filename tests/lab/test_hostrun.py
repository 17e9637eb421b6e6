#!/usr/bin/python3
"""./pifio run --host-dev on this host: refuses without --destroy-data, refuses
devices that are not NVMe namespaces or do not exist, and a namespace that is
mounted or held (busy_reason over a sysfs-shaped tree and a mounts table).
The id-ns -> format derivation is checked against QEMU namespaces in test_boot.py."""
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
from lab.targets import hostdev as hostrun  # noqa: E402

fails = []


def check(cond, what):
    print(("ok   " if cond else "FAIL ") + what)
    if not cond:
        fails.append(what)


def pifio(*args):
    r = subprocess.run([str(ROOT / "pifio"), "run", "--no-build", *args], capture_output=True, text=True, timeout=60)
    return r.returncode, r.stderr


rc, err = pifio("--host-dev", "/dev/ng7n1")
check(rc == 2 and "--destroy-data" in err and "destroy" in err, f"no opt-in -> exit 2, says --destroy-data ({err.strip()})")
rc, err = pifio("--host-dev", "/dev/sda", "--destroy-data")
check(rc == 2 and "not an NVMe namespace" in err, f"non-NVMe device refused ({err.strip()})")
rc, err = pifio("--host-dev", "/dev/ng7n9", "--destroy-data")
check(rc == 2 and "does not exist" in err, f"missing namespace refused ({err.strip()})")
rc, err = pifio("--host-dev", "/dev/ng7n1=4096+4/t1", "--destroy-data")
check(rc == 2 and "does not exist" not in err and "ms" in err, f"bad spec refused first, naming ms ({err.strip()})")

with tempfile.TemporaryDirectory() as t:
    sb = Path(t)
    (sb / "nvme0n1" / "holders").mkdir(parents=True)
    (sb / "nvme0n1" / "nvme0n1p1" / "holders").mkdir(parents=True)
    (sb / "nvme1n1" / "holders").mkdir(parents=True)
    (sb / "nvme1n1" / "holders" / "dm-0").mkdir()
    (sb / "nvme2n1" / "holders").mkdir(parents=True)
    mounts = "/dev/nvme0n1p1 /boot ext4 rw 0 0\n/dev/vda / ext4 rw 0 0\n"
    why = hostrun.busy_reason("nvme0n1", mounts, sb)
    check(why is not None and "nvme0n1p1 is mounted" in why, f"mounted partition -> busy ({why})")
    why = hostrun.busy_reason("nvme1n1", mounts, sb)
    check(why is not None and "dm-0" in why, f"dm holder -> busy ({why})")
    check(hostrun.busy_reason("nvme2n1", mounts, sb) is None, "idle namespace -> not busy")

# id-ns decoding: upper format-index bits of flbas (bits 5-6) and the PI-first bit.
lbafs = [{"ms": 0, "ds": 9}] * 16 + [{"ms": 8, "ds": 12}]
check(hostrun.spec_from_id_ns({"flbas": 0x20, "lbafs": lbafs, "dps": 0x9}) == "4096+8/t1/first/sep",
      "flbas upper index bits and dps first bit decoded")

if fails:
    print(f"{len(fails)} failure(s)")
    sys.exit(1)
print("hostrun: all checks passed")
