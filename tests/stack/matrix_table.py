#!/usr/bin/env python3
"""The stack matrix table of tests/stack/README.md, from the stack-results JSON.

  matrix_table.py --results BUILD/stack-results [--write]
      print the table (one row per case of stack_lab.CASES, one column per
      kernel 6.1 / 6.12 / 7.3: pass / SKIP + reason / FAIL + reason); --write
      puts it into README.md between the two marker lines.
  matrix_table.py --results BUILD/stack-results --check
      (ctest stack.matrix.readme) the README's table must show the status the
      last results give each case on each kernel: exit 0 when it does, 1 with
      the differences and the command that regenerates it, 77 when a kernel's
      results file is missing (its boot did not run here).
  matrix_table.py --check-rows
      (ctest stack.matrix.rows, no guest) the README table has exactly one row
      per case of stack_lab.CASES.
"""
from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import stack_lab  # noqa: E402

KERNELS = ["6.1", "6.12", "7.3"]
README = HERE / "README.md"
BEGIN = "<!-- matrix:begin (tests/stack/matrix_table.py --write; do not edit by hand) -->"
END = "<!-- matrix:end -->"


def load(results: Path) -> dict[str, dict]:
    out = {}
    for k in KERNELS:
        p = results / f"{k}.json"
        if p.exists():
            out[k] = json.loads(p.read_text())
    return out


# Failures ctest expects (WILL_FAIL in tests/stack/CMakeLists.txt): known kernel bugs.
EXPECTED_FAIL = {("zeropage", "6.12"): "expected: Debian 6.12.117 zero-page bug, ctest WILL_FAIL"}


def short(text: str, n: int = 160) -> str:
    text = text.replace("|", "/").replace("\n", " ")
    return text if len(text) <= n else text[:n - 3] + "..."


def cell(v: dict | None, name: str = "", kernel: str = "") -> str:
    if v is None:
        return "—"
    st = v.get("status")
    why = short(v.get("reason") or "")
    if st == "pass":
        skipped = [ln[len("skip "):].strip() for ln in v.get("lines", []) if ln.startswith("skip ")]
        return "pass" + (f" (check skipped: {short(skipped[0], 140)})" if skipped else "")
    if st == "fail" and (name, kernel) in EXPECTED_FAIL:
        return f"FAIL ({EXPECTED_FAIL[(name, kernel)]}): {short(why, 100)}"
    if st == "skip":
        return f"SKIP: {why}"
    return f"FAIL: {why}"


def table(docs: dict[str, dict]) -> str:
    head = "| case | " + " | ".join(
        f"{k} ({docs[k]['release']})" if k in docs else k for k in KERNELS) + " |"
    lines = [head, "| --- |" + " --- |" * len(KERNELS)]
    for name in stack_lab.CASES:
        cells = [cell(docs[k]["cases"].get(name), name, k) if k in docs else "—" for k in KERNELS]
        lines.append(f"| `{name}` | " + " | ".join(cells) + " |")
    when = ", ".join(f"{k}: {docs[k]['time']}" for k in KERNELS if k in docs)
    lines.append("")
    lines.append(f"Results of the boots at {when or 'never'}.")
    return "\n".join(lines)


def readme_rows(text: str) -> dict[str, list[str]]:
    if BEGIN not in text or END not in text:
        return {}
    body = text.split(BEGIN, 1)[1].split(END, 1)[0]
    rows = {}
    for ln in body.splitlines():
        m = re.match(r"\|\s*`([^`]+)`\s*\|(.*)\|\s*$", ln)
        if m:
            rows[m.group(1)] = [c.strip() for c in m.group(2).split("|")]
    return rows


def status_of(c: str) -> str:
    return "pass" if c.startswith("pass") else "skip" if c.startswith("SKIP") else "fail" if c.startswith("FAIL") else "none"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--results", type=Path, default=HERE.parents[1] / "build" / "stack-results")
    ap.add_argument("--write", action="store_true")
    ap.add_argument("--check", action="store_true")
    ap.add_argument("--check-rows", action="store_true")
    a = ap.parse_args(argv)
    text = README.read_text()
    if a.check_rows:
        rows = readme_rows(text)
        want, have = list(stack_lab.CASES), list(rows)
        if want != have:
            print(f"FAIL: README table rows {have} != stack_lab.CASES {want}; "
                  f"run tests/stack/matrix_table.py --write after a boot of each kernel")
            return 1
        print(f"ok: README table has one row per case ({len(want)})")
        return 0
    docs = load(a.results)
    if a.check:
        missing = [k for k in KERNELS if k not in docs]
        if missing:
            print(f"SKIP: no results for kernel(s) {', '.join(missing)} in {a.results} (their stack.<kernel>.boot did not run)")
            return 77
        rows = readme_rows(text)
        diffs = []
        for name in stack_lab.CASES:
            got = rows.get(name)
            for i, k in enumerate(KERNELS):
                want = docs[k]["cases"].get(name, {}).get("status", "none")
                have = status_of(got[i]) if got and i < len(got) else "missing"
                if want != have:
                    diffs.append(f"{name} on {k}: README says {have}, the last boot says {want}")
        if diffs:
            print("FAIL: tests/stack/README.md's matrix is not the last results:")
            for d in diffs:
                print("  " + d)
            print(f"regenerate: /usr/bin/python3 tests/stack/matrix_table.py --results {a.results} --write")
            return 1
        print(f"ok: README matrix matches the last results of {', '.join(KERNELS)}")
        return 0
    t = table(docs)
    if a.write:
        if BEGIN not in text:
            text = text.rstrip("\n") + f"\n\n## Matrix\n\n{BEGIN}\n{END}\n"
        pre, rest = text.split(BEGIN, 1)
        post = rest.split(END, 1)[1]
        README.write_text(f"{pre}{BEGIN}\n{t}\n{END}{post}")
        print(f"wrote the matrix into {README}")
    else:
        print(t)
    return 0


if __name__ == "__main__":
    sys.exit(main())
