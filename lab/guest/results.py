"""What comes back from a boot: the GuestResult, the results tar stream,
the script's exit code, the namespaces the guest saw (namespaces.tsv)."""
from __future__ import annotations

import tarfile
from dataclasses import dataclass, field
from pathlib import Path

from .namespace import Namespace


@dataclass
class GuestResult:
    rc: int | None                 # the script's exit code; None when it never finished
    timed_out: bool
    console_log: Path
    results_dir: Path
    run_dir: Path
    kernel: dict
    cmdline: str
    qemu_cmd: list[str]
    namespaces: list[dict] = field(default_factory=list)   # nsid, format, block, char, integrity_format, backing
    clock: str = "realtime"        # guest clock: "realtime" | "icount shift=N sleep=off" (see clock_args)
    boot_s: float | None = None    # host wall seconds from QEMU start to /init (±0.2 s)
    wall_s: float = 0.0
    markers: dict = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.rc == 0 and not self.timed_out

    def text(self, name: str) -> str:
        p = self.results_dir / name
        return p.read_text(errors="replace") if p.exists() else ""

    def ns(self, nsid: int) -> dict:
        for n in self.namespaces:
            if n["nsid"] == nsid:
                return n
        raise KeyError(f"nsid {nsid} not seen by the guest")

    def why(self) -> str:
        """One line for an assertion message."""
        if self.timed_out:
            return f"guest timed out after {self.wall_s:.0f} s (console: {self.console_log})"
        tail = "\n".join(self.text("scenario.log").splitlines()[-15:])
        return f"rc={self.rc} (console: {self.console_log})\n{tail}"


def unpack(results_img: Path, dest: Path) -> bool:
    """Extract the guest's tar stream from the results disk into dest; False
    when the guest never wrote one (hang, panic)."""
    dest.mkdir(parents=True, exist_ok=True)
    try:
        with tarfile.open(results_img, "r:") as tf:
            tf.extractall(dest, filter="data") if hasattr(tarfile, "data_filter") else tf.extractall(dest)
    except (tarfile.ReadError, EOFError):
        return False
    return True


def exit_code(results_dir: Path, console: dict) -> int | None:
    """The script's exit code: results/rc, else the console's PIFIO-RC, else None."""
    p = results_dir / "rc"
    if p.exists():
        try:
            return int(p.read_text().strip())
        except ValueError:
            return None
    return console.get("rc")


def namespaces_seen(tsv: Path, nss: list[Namespace]) -> list[dict]:
    seen = {}
    if tsv.exists():
        lines = tsv.read_text().splitlines()
        head = lines[0].split("\t") if lines else []
        for line in lines[1:]:
            row = dict(zip(head, line.split("\t")))
            if "nsid" in row:
                seen[int(row["nsid"])] = row
    out = []
    for n in nss:
        row = {"nsid": n.nsid, "format": n.fmt.canonical(), "spec": n.fmt.short(),
               "backing": str(n.backing) if n.backing else None, "size": n.size}
        g = seen.get(n.nsid)
        row["seen"] = g is not None
        if g:
            row.update({"block": g.get("block"), "char": g.get("char"),
                        "integrity_format": g.get("integrity_format"),
                        "sectors": int(g.get("sectors") or 0),
                        "logical_block_size": int(g.get("logical_block_size") or 0)})
        out.append(row)
    return out
