"""A canary series behaves as its manifest says: ./pifio ab --series S [--runs N]
(A = 7.3, B = 7.3 + S, interleaved boots), then every expectation in
kernel-patches/S/manifest.json must hold (report.json "checks").

The speed canary (slow-guard) runs with ab's defaults: icount guest clock,
2 boots per side x 3 fio runs per scenario, judged on guest CPU per I/O
(~4 min warm on the 2-core host while other work runs)."""
import json
import sys

from kcommon import ROOT, need_build_tools, need_lab, skip  # noqa: F401

series = sys.argv[1]
runs = sys.argv[2] if len(sys.argv) > 2 else None
need_build_tools()
need_lab(dm=True)
from lab.commands import ab as kernel_ab  # noqa: E402
from lab.core.env import RESULTS  # noqa: E402

rc = kernel_ab.main(["--series", series] + (["--runs", runs] if runs else []))
reports = sorted(RESULTS.glob(f"ab-*-{series}/report.json"), key=lambda p: p.stat().st_mtime)
if not reports:
    print(f"FAIL: ab wrote no report (exit {rc})")
    sys.exit(1)
rep = json.loads(reports[-1].read_text())
checks = rep["checks"]
for c in checks:
    print({True: "OK  ", False: "FAIL", None: "SKIP"}[c["ok"]], c["check"], "-", c["detail"])
if not checks:
    print("FAIL: no expectation was checked")
    sys.exit(1)
if all(c["ok"] is None for c in checks):
    print("SKIP: every scenario skipped: " + checks[0]["detail"])
    sys.exit(77)
sys.exit(0 if rc == 0 and all(c["ok"] is not False for c in checks) else 1)
