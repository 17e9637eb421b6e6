"""Every series folder has a manifest with the required fields; buildable
series have format-patch files; the 2017 record is marked not buildable; the
config fragment only holds CONFIG_ lines; patches apply to the cached tree
(when it exists)."""
import json
import re
import subprocess
import sys

from kcommon import ROOT, skip  # noqa: F401

from lab.kernels import build as K
from lab.kernels import series

bad = []
names = []
for d in sorted((ROOT / "kernel-patches").iterdir()):
    if not d.is_dir() or d.name == "config":
        continue
    mf = d / "manifest.json"
    if not mf.exists():
        bad.append(f"{d.name}: no manifest.json")
        continue
    m = json.loads(mf.read_text())
    names.append(d.name)
    for k in ("base", "summary", "expect"):
        if k not in m:
            bad.append(f"{d.name}: manifest lacks {k!r}")
    if m.get("buildable", True):
        pats = sorted(d.glob("*.patch"))
        if not pats:
            bad.append(f"{d.name}: buildable but no *.patch")
        for p in pats:
            t = p.read_text()
            if not t.startswith("From ") or "\nSubject: " not in t or "\n---\n" not in t:
                bad.append(f"{p.name}: not git format-patch output")
            if "Signed-off-by:" not in t:
                bad.append(f"{p.name}: no Signed-off-by")
    exp = m.get("expect", {})
    if "must_fail" in exp and not all(isinstance(x, str) for x in exp["must_fail"]):
        bad.append(f"{d.name}: expect.must_fail must be a list of scenario globs")
    if "no_change" in exp and not all(isinstance(x, str) or (isinstance(x, dict) and "scenario" in x)
                                      for x in exp["no_change"]):
        bad.append(f"{d.name}: expect.no_change must be scenario globs or {{scenario, metric}}")
    if "must_regress" in exp:
        for r in exp["must_regress"]:
            if not {"scenario", "metric", "min_pct"} <= set(r):
                bad.append(f"{d.name}: must_regress entry needs scenario, metric, min_pct")
            elif r["metric"] not in ("iops", "bw", "lat", "cpu"):
                bad.append(f"{d.name}: must_regress metric {r['metric']!r}: want iops, bw, lat or cpu")

for want in ("stacked-verify", "slow-guard", "2017-revert-stop-abusing-bi_end_io"):
    if want not in names:
        bad.append(f"series {want} missing")
rec = json.loads((ROOT / "kernel-patches/2017-revert-stop-abusing-bi_end_io/manifest.json").read_text())
if rec.get("buildable") is not False or "4.13" not in json.dumps(rec):
    bad.append("2017 record must say buildable: false and name v4.13")

for i, line in enumerate(K.FRAGMENT.read_text().splitlines(), 1):
    if line and not line.startswith("#") and not re.match(r"CONFIG_\w+=(y|n|m|\d+|\".*\")$", line):
        bad.append(f"lab.config:{i}: not a CONFIG_ line: {line}")

# patches apply (git apply --check against the pristine tree), when it is unpacked
info = K.base_info("7.3")
tree = K.SRC / info["version"]
if (tree / ".git").exists():
    for s in series.list_series():
        if not s.get("buildable", True):
            continue
        for p in series.series_patches(s["name"]):
            r = subprocess.run(["git", "apply", "--check", str(p)], cwd=tree, capture_output=True, text=True)
            if r.returncode:
                bad.append(f"{p.name} does not apply to {info['version']}: {r.stderr.strip()[:300]}")
else:
    print(f"note: {tree} not unpacked; apply check skipped")

if bad:
    print("\n".join("FAIL " + b for b in bad))
    sys.exit(1)
print(f"ok: {len(names)} series")
