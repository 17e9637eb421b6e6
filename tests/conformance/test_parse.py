#!/usr/bin/python3
"""conformance.py's parser and verdict on made-up script output (no guest)."""
import json
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import conformance as c  # noqa: E402

NVMEPT = """Artifact directory is /results/x
Device capabilities: {'pil': [1, 0], 'pitype': [1, 2, 3], 'elba': [1, 0]}

lbaf: {'lbaf': 1, 'ds': 512, 'ms': 8, 'guard_pi_bits': 16, 'pi_bytes': 8}, pil: 1, pitype: 3, elba: 1
Test 101 PASSED 101
Test 305 FAILED:  non-zero return code, stderr not empty size 211, 305
Test 309 SKIPPED (User request or override)
3 test(s) passed, 1 failed, 1 skipped

lbaf: {'lbaf': 6, 'ds': 4096, 'ms': 16, 'guard_pi_bits': 16, 'pi_bytes': 8}, pil: 0, pitype: 1, elba: 0
Unable to format device; skipping this configuration
"""
URING = """----
lbaf: {'lbaf': 1, 'ds': 512, 'ms': 8, 'guard_pi_bits': 16, 'pi_bytes': 8}, pil: 1, pitype: 1
----
Test 104 PASSED 104
"""

fails = []


def expect(cond, what):
    print(("ok   " if cond else "FAIL ") + what)
    if not cond:
        fails.append(what)


p = c.parse_output(NVMEPT, "nvmept_pi")
expect(set(p) == {"lbaf1pil1pitype3elba1", "lbaf6pil0pitype1elba0"}, f"configuration dirs {sorted(p)}")
t = p["lbaf1pil1pitype3elba1"]["tests"]
expect(t["101"] == {"result": "PASSED", "reason": ""}, f"101 {t['101']}")
expect(t["305"]["result"] == "FAILED" and t["305"]["reason"].startswith("non-zero return code"), f"305 {t['305']}")
expect(t["309"]["result"] == "SKIPPED", "309 skipped")
expect(not p["lbaf6pil0pitype1elba0"]["formatted"], "format failure recorded")
u = c.parse_output(URING, "io_uring_pi")
expect(list(u) == ["lbaf1pil1pitype1"] and u["lbaf1pil1pitype1"]["elba"] is None, f"io_uring_pi dirs {list(u)}")

# check: a test the control passes and pifio fails is lost; the reverse is a note.
ctl = c.parse_output(NVMEPT, "nvmept_pi")
pif = json.loads(json.dumps(ctl))
res = {"kernel": {"release": "x"}, "number_ios": 1, "guest": {"timed_out": False, "run_dir": "-"},
       "control_cached": [], "runs": {"control": {f"nvmept_pi/g16/{k}": v for k, v in ctl.items()},
                                      "pifio": {f"nvmept_pi/g16/{k}": v for k, v in pif.items()}}}
key = "nvmept_pi/g16/lbaf1pil1pitype3elba1"
with tempfile.TemporaryDirectory() as d:
    f = Path(d) / "r.json"

    def verdict():
        f.write_text(json.dumps(res))
        return subprocess.run([sys.executable, str(HERE / "conformance.py"), "check", "--results", str(f),
                               "--config", key], capture_output=True, text=True)
    r = verdict()
    expect(r.returncode == 0, f"same results conform (rc {r.returncode})")
    res["runs"]["pifio"][key]["tests"]["101"] = {"result": "FAILED", "reason": "non-zero return code,"}
    r = verdict()
    expect(r.returncode == 1 and "LOST test 101" in r.stdout, f"a lost test fails the configuration (rc {r.returncode})")
    res["runs"]["pifio"][key]["tests"]["101"] = {"result": "PASSED", "reason": ""}
    res["runs"]["pifio"][key]["tests"]["305"] = {"result": "PASSED", "reason": ""}
    r = verdict()
    expect(r.returncode == 0 and "note: test 305" in r.stdout, "a test only pifio passes is a note")
    key = "nvmept_pi/g16/lbaf6pil0pitype1elba0"
    r = verdict()
    expect(r.returncode == 77, f"a configuration nvme-cli cannot format skips (rc {r.returncode})")
sys.exit(1 if fails else 0)
