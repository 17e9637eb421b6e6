"""The console protocol between a guest and the host, and its one parser.

Every line the host acts on starts with a PIFIO- tag (the guest writes them
to the serial console; a kernel message may share the line, so a tag is
found anywhere in it):

  PIFIO-INIT uptime=<s> kernel=<release>     /init started          (lab/guest/init.sh)
  PIFIO-WARN <text>                           set-up trouble (insmod, missing namespaces)
  PIFIO-READY uptime=<s>                      namespaces mapped, the script starts
  PIFIO-RC <n> uptime=<s>                     the script's exit code
  PIFIO-RESULTS <text>                        results disk written (or why not)
  PIFIO-DONE                                  about to power off
  PIFIO-JOB <scenario> <job> start <uptime>   a scenario job starts   (lab.model.scenarios)
  PIFIO-JOB <scenario> <job> rc <n>           ... and ends
  PIFIO-SERVER-NS <nsid> <ng> <nvme>          fio --server guests     (lab.targets.multihost)
  PIFIO-SERVER-UP <text>
  PIFIO-SERVER-FAILED <text>
  PIFIO-SERVER-STOP <text>

Console.feed(line) parses one line (returns its Marker, or None) and folds
it into .summary; parse_log(text) does that for a whole console log.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

# The tags above; any PIFIO-<TAG> parses (a new marker needs no change here),
# these are the ones the host acts on.
TAGS = ("INIT", "WARN", "READY", "RC", "RESULTS", "DONE", "JOB", "SERVER-NS", "SERVER-UP", "SERVER-FAILED",
        "SERVER-STOP")
_TAG = re.compile(r"PIFIO-([A-Z]+(?:-[A-Z]+)*)(?![\w-])(?: (.*))?")
_UPTIME = re.compile(r"uptime=(\d+(?:\.\d*)?)")


@dataclass(frozen=True)
class Marker:
    tag: str                  # INIT, READY, RC, JOB, SERVER-UP, … (without "PIFIO-")
    text: str                 # the rest of the line after the tag

    @property
    def args(self) -> list[str]:
        return self.text.split()

    @property
    def uptime(self) -> float | None:
        m = _UPTIME.search(self.text)
        return float(m.group(1)) if m else None

    def job(self) -> tuple[str, str, str, str] | None:
        """PIFIO-JOB: (scenario, job, "start" | "rc", uptime | exit code); None when malformed."""
        a = self.args
        if self.tag != "JOB" or len(a) < 3:
            return None
        if a[2] == "start":
            return a[0], a[1], "start", a[3] if len(a) > 3 else ""
        if a[2] == "rc" and len(a) > 3:
            return a[0], a[1], "rc", a[3]
        return None


def parse_line(line: str) -> Marker | None:
    m = _TAG.search(line)
    return Marker(m.group(1), (m.group(2) or "").rstrip("\r")) if m else None


class Console:
    """Follows a console line by line. .summary: init_uptime, ready_uptime,
    rc, rc_uptime (first of each), done, warnings, panic (when seen)."""

    def __init__(self):
        self.summary: dict = {"done": False, "warnings": []}

    def feed(self, line: str) -> Marker | None:
        s = self.summary
        if "Kernel panic" in line:
            s["panic"] = True
        m = parse_line(line)
        if m is None:
            return None
        if m.tag == "INIT" and "init_uptime" not in s and m.uptime is not None:
            s["init_uptime"] = m.uptime
        elif m.tag == "READY" and "ready_uptime" not in s and m.uptime is not None:
            s["ready_uptime"] = m.uptime
        elif m.tag == "RC" and "rc" not in s and m.args and m.args[0].isdigit() and m.uptime is not None:
            s["rc"] = int(m.args[0])
            s["rc_uptime"] = m.uptime
        elif m.tag == "DONE":
            s["done"] = True
        elif m.tag == "WARN":
            s["warnings"].append(m.text)
        return m


def parse_log(text: str) -> dict:
    """The summary of a whole console log (see Console)."""
    c = Console()
    for line in text.split("\n"):
        c.feed(line)
    return c.summary
