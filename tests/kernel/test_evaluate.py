"""Manifest expectations are judged right (no lab needed): must_fail,
no new failure, must_regress with a minimum effect, no_change."""
import sys

from kcommon import ROOT  # noqa: F401

from lab.ab.ab import evaluate

P = {"status": "pass", "why": ""}
F = {"status": "fail", "why": "ref tag error at location 8 (rcvd 16392)"}
SK = {"status": "skip", "why": "dmsetup missing"}
n1, n2 = "dm-linear/512+8t1/read-verify", "dm-linear/4096+8t1/read-verify"
bad = []


def ok_of(checks, needle):
    return [c["ok"] for c in checks if needle in c["check"]]


c = evaluate({"must_fail": ["dm-linear/*/read-verify"]}, [{n1: P, n2: P}] * 2, [{n1: F, n2: F}] * 2, None)
if ok_of(c, n1) != [True] or ok_of(c, n2) != [True]:
    bad.append(f"must_fail met not recognised: {c}")
c = evaluate({"must_fail": ["dm-linear/*/read-verify"]}, [{n1: P}], [{n1: P}], None)
if ok_of(c, n1) != [False]:
    bad.append(f"must_fail unmet not flagged: {c}")
c = evaluate({}, [{n1: P}], [{n1: F}], None)
if ok_of(c, n1) != [False]:
    bad.append(f"new failure on B not flagged: {c}")
c = evaluate({"must_fail": ["dm-linear/*"]}, [{n1: SK}], [{n1: SK}], None)
if ok_of(c, n1) != [None]:
    bad.append(f"skip not reported as skip: {c}")


def row(sc, verdict, pct):
    return {"scenario": sc, "metric": "read IOPS", "verdict": verdict, "change_pct": pct, "a": 1000.0,
            "b": 1000.0 * (1 + pct / 100), "p_value": 0.008}


res = {"rows": [row("kernel-pi/4096+8t1/randread-qd8", "regressed", -23.0),
                row("passthrough/4096+0/randread-qd8", "within noise", 0.4)]}
exp = {"must_regress": [{"scenario": "kernel-pi/*", "metric": "iops", "min_pct": 5}], "no_change": ["passthrough/*"]}
c = evaluate(exp, [], [], res)
if [x["ok"] for x in c] != [True, True]:
    bad.append(f"speed expectations met not recognised: {c}")
res["rows"][0].update(verdict="regressed", change_pct=-3.0)
res["rows"][1].update(verdict="regressed", change_pct=-4.0)
c = evaluate(exp, [], [], res)
if [x["ok"] for x in c] != [False, False]:
    bad.append(f"too-small regression / passthrough change not flagged: {c}")

# guest CPU per I/O rows (lab/kernel_ab.cpu_rows: lower is better, regressed = B costs more)
res = {"rows": [dict(row("kernel-pi/4096+8t1/randread-qd8/randread-qd8", "regressed", 210.0), metric="guest CPU per I/O"),
                dict(row("passthrough/4096+0/randread-qd8/randread-qd8", "within noise", -0.3), metric="guest CPU per I/O"),
                row("passthrough/4096+0/randread-qd8/randread-qd8", "improved", 40.0)]}   # icount IOPS: not judged
exp = {"must_regress": [{"scenario": "kernel-pi/*", "metric": "cpu", "min_pct": 20}],
       "no_change": [{"scenario": "passthrough/*", "metric": "cpu"}]}
c = evaluate(exp, [], [], res)
if [x["ok"] for x in c] != [True, True]:
    bad.append(f"cpu expectations met not recognised: {c}")
if bad:
    print("\n".join("FAIL " + b for b in bad))
    sys.exit(1)
print("ok")
