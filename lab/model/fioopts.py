"""fio's PI options for a namespace format, and fio command lines built from them.

builtin(): options for fio's own io_uring_cmd engine with its PI support
(fio 3.41: md_per_io_size, pi_act, pi_chk, apptag, apptag_mask), the
comparison baseline and an oracle independent of our engine. The same option
names work with our engine, which adds pi_format/pi_verify/pi_report.
"""
from __future__ import annotations

from .formats import Format

APPTAG = 0x1234


def io_size(fmt: Format, data_bytes: int = 4096) -> tuple[int, int]:
    """(bs, md_per_io_size) carrying data_bytes of data per I/O (at least one block)."""
    blocks = max(1, data_bytes // fmt.data)
    bs = blocks * fmt.lba_size
    md = blocks * fmt.ms if (fmt.ms and not fmt.ext) else 0
    return bs, md


def pi_chk(fmt: Format) -> str:
    if fmt.pi == 0:
        return ""
    # Type 3 has no checkable ref tag: PRCHK ref there is Invalid Protection Information (0x181).
    return "GUARD,APPTAG" if fmt.pi == 3 else "GUARD,REFTAG,APPTAG"


def pi_opts(fmt: Format, data_bytes: int = 4096, *, pi_act: int = 0, check: bool = True) -> list[str]:
    """PI options (fio 3.41 names) for I/O of data_bytes on a namespace of fmt."""
    bs, md = io_size(fmt, data_bytes)
    o = [f"--bs={bs}"]
    if md:
        o.append(f"--md_per_io_size={md}")
    if fmt.pi:
        o.append(f"--pi_act={pi_act}")
        if check and pi_chk(fmt):
            o.append(f"--pi_chk={pi_chk(fmt)}")
        o += [f"--apptag={APPTAG:#x}", "--apptag_mask=0xffff"]
    return o


def builtin(fmt: Format, dev: str, *, name: str, rw: str, size: str | None = "8M", iodepth: int = 1,
            runtime: int | None = None, data_bytes: int = 4096, pi_act: int = 0,
            output: str | None = None, extra: list[str] | None = None) -> list[str]:
    """A complete fio command line (list) for fio's built-in io_uring_cmd engine."""
    o = ["fio", f"--name={name}", "--ioengine=io_uring_cmd", "--cmd_type=nvme", f"--filename={dev}",
         f"--rw={rw}", f"--iodepth={iodepth}", "--output-format=json+"]
    o += pi_opts(fmt, data_bytes, pi_act=pi_act)
    if size:
        o.append(f"--size={size}")
    if runtime:
        o += ["--time_based", f"--runtime={runtime}"]
    if output:
        o.append(f"--output={output}")
    return o + list(extra or [])


def sh(argv: list[str]) -> str:
    return " ".join(a if all(c.isalnum() or c in "-_=./,:+$" for c in a) else "'" + a + "'" for a in argv)
