"""A namespace of the guest's NVMe controller: its format, size, backing file,
and where a block's bytes live in that file (for corrupting media between boots)."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ..core.env import PifioError
from ..model import formats


@dataclass
class Namespace:
    """One namespace on the guest's controller.

    backing: keep the image at this path (created sparse with truncate when
    missing, reused as is when present) — for tests that power off, corrupt
    bytes on the host, and boot again. None: a throw-away file in the run dir.
    """
    format: str | formats.Format = "4096+8/t1"
    size: int = 64 << 20           # bytes of backing file (data + metadata)
    backing: Path | None = None
    nsid: int | None = None        # default: position in the list, from 1

    @property
    def fmt(self) -> formats.Format:
        return self.format if isinstance(self.format, formats.Format) else formats.parse(self.format)

    def nlbas(self) -> int:
        return self.fmt.nlbas(self.size)

    def offset(self, lba: int, what: str = "data") -> tuple[int, int]:
        """(byte offset, length) in the backing file of block lba's `what`:
        data | md | guard | app | ref (QEMU 7.2 layout, see lab.model.formats)."""
        f = self.fmt
        if what == "data":
            return f.data_offset(self.size, lba), f.data
        if what == "md":
            return f.md_offset(self.size, lba), f.ms
        return f.tuple_offset(self.size, lba, what)

    def corrupt(self, lba: int, what: str = "guard", byte: int = 0, xor: int = 0x01) -> int:
        """Flip bits of one byte of block lba's `what` in the backing file (guest
        powered off). Returns the file offset changed."""
        if self.backing is None or not Path(self.backing).exists():
            raise PifioError("corrupt() needs a namespace with a kept backing file (Namespace(backing=…))")
        off, n = self.offset(lba, what)
        if not 0 <= byte < n:
            raise PifioError(f"byte {byte} outside {what} ({n} bytes)")
        with open(self.backing, "r+b") as fh:
            fh.seek(off + byte)
            b = fh.read(1)
            fh.seek(off + byte)
            fh.write(bytes([b[0] ^ xor]))
        return off + byte

    def read(self, lba: int, what: str = "data") -> bytes:
        off, n = self.offset(lba, what)
        with open(self.backing, "rb") as fh:
            fh.seek(off)
            return fh.read(n)


def normalize(namespaces) -> list[Namespace]:
    out = []
    for i, n in enumerate(namespaces, 1):
        if isinstance(n, (str, formats.Format)):
            n = Namespace(format=n)
        if n.nsid is None:
            n = Namespace(format=n.format, size=n.size, backing=n.backing, nsid=i)
        out.append(n)
    seen = set()
    for n in out:
        if n.nsid in seen:
            raise PifioError(f"nsid {n.nsid} given twice")
        seen.add(n.nsid)
        n.fmt  # validate
    return out
