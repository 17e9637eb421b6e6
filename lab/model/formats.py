"""LBA format specs (DESIGN §3), their QEMU nvme-ns properties, and where a
block's bytes live in a QEMU backing file.

Spec: "<data>+<ms>[/t0|t1|t2|t3][/g16|g64][/first|last][/sep|ext]", fields
after "+ms" in any order, each at most once. Defaults: t1 when ms >= 8 else
t0, g16, last, sep. Mirrors pifio::parse_format (engine/include/pifio/pi.hpp).

QEMU 7.2 layout (hw/nvme/ns.c nvme_ns_init_format, verified by
the layout test in tests/lab/test_boot.py): the backing image holds nlbas = size // (data + ms)
blocks; all data first (block N at N*data), then all metadata (block N's at
nlbas*data + N*ms) — for separate *and* extended (mset=1) namespaces alike;
mset only changes how the host transfers the bytes.
"""
from __future__ import annotations

from dataclasses import dataclass

from ..core.env import PifioError


@dataclass(frozen=True)
class Format:
    data: int = 4096
    ms: int = 0
    pi: int = 0            # PI type 0..3
    guard: int = 16        # 16 (8-byte tuple) or 64 (16-byte tuple)
    first: bool = False    # PI in the first bytes of the metadata
    ext: bool = False      # extended LBA (metadata interleaved with data)

    @property
    def tuple_size(self) -> int:
        return 0 if self.pi == 0 else (8 if self.guard == 16 else 16)

    @property
    def pi_offset(self) -> int:
        """Offset of the tuple inside the block's metadata."""
        return 0 if self.first else self.ms - self.tuple_size

    @property
    def lba_size(self) -> int:
        """Bytes per block as the host transfers it (data + ms when extended)."""
        return self.data + self.ms if self.ext else self.data

    def transfer_offset(self, data_bytes: int) -> int:
        """Bytes as the host transfers them (whole extended blocks when ext) for
        data_bytes of block data, rounded down to whole blocks."""
        return data_bytes // self.data * self.lba_size

    def canonical(self) -> str:
        return (f"{self.data}+{self.ms}/t{self.pi}/g{self.guard}/"
                f"{'first' if self.first else 'last'}/{'ext' if self.ext else 'sep'}")

    def short(self) -> str:
        s = f"{self.data}+{self.ms}"
        default_pi = 1 if self.ms >= 8 else 0
        if self.pi != default_pi:
            s += f"/t{self.pi}"
        elif self.pi:
            s += f"/t{self.pi}"       # keep the type visible for PI formats (4096+8/t1)
        if self.guard != 16:
            s += "/g64"
        if self.first:
            s += "/first"
        if self.ext:
            s += "/ext"
        return s

    def slug(self) -> str:
        """File-name friendly: 4096+8/t1/g64 -> 4096p8-t1-g64."""
        return self.short().replace("+", "p").replace("/", "-")

    def qemu_props(self) -> dict:
        """nvme-ns properties for this format (QEMU 7.2)."""
        return {
            "logical_block_size": self.data,
            "physical_block_size": self.data,
            "ms": self.ms,
            "mset": 1 if self.ext else 0,
            "pi": self.pi,
            "pil": 1 if self.first else 0,
            "pif": 2 if self.guard == 64 else 0,
        }

    def kernel_integrity_format(self) -> str | None:
        """What /sys/block/nvmeXnY/integrity/format should say (separate metadata
        with PI; the driver names the profile by type and guard), else None."""
        if self.pi == 0:
            return None
        kind = "T10-DIF-TYPE3" if self.pi == 3 else "T10-DIF-TYPE1"
        return f"EXT-DIF-TYPE{3 if self.pi == 3 else 1}-CRC64" if self.guard == 64 else f"{kind}-CRC"

    # ---------------------------------------------------- backing file layout
    def nlbas(self, backing_size: int) -> int:
        return backing_size // (self.data + self.ms)

    def data_offset(self, backing_size: int, lba: int) -> int:
        """Byte offset of block lba's data in the backing file."""
        self._check_lba(backing_size, lba)
        return lba * self.data

    def md_offset(self, backing_size: int, lba: int) -> int:
        """Byte offset of block lba's metadata in the backing file."""
        if self.ms == 0:
            raise PifioError(f"format {self.short()} has no metadata")
        self._check_lba(backing_size, lba)
        return self.nlbas(backing_size) * self.data + lba * self.ms

    def tuple_offset(self, backing_size: int, lba: int, field: str = "guard") -> tuple[int, int]:
        """(offset, length) in the backing file of a PI field of block lba.
        field: guard | app | ref (ref includes the storage tag bits for g64)."""
        if self.pi == 0:
            raise PifioError(f"format {self.short()} carries no PI")
        base = self.md_offset(backing_size, lba) + self.pi_offset
        g = 2 if self.guard == 16 else 8
        fields = {"guard": (0, g), "app": (g, 2), "ref": (g + 2, 4 if self.guard == 16 else 6)}
        if field not in fields:
            raise PifioError(f"unknown PI field {field!r}: want guard, app or ref")
        off, n = fields[field]
        return base + off, n

    def _check_lba(self, backing_size: int, lba: int) -> None:
        n = self.nlbas(backing_size)
        if not 0 <= lba < n:
            raise PifioError(f"lba {lba} outside the namespace (0..{n - 1})")


def parse(spec: str) -> Format:
    """Parse and validate a format spec; errors name the field and a fix."""
    head, *fields = spec.strip().split("/")
    if "+" not in head:
        raise PifioError(f"format {spec!r}: want <data>+<ms>, e.g. 4096+8 or 512+0")
    d, m = head.split("+", 1)
    try:
        data, ms = int(d), int(m)
    except ValueError:
        raise PifioError(f"format {spec!r}: data and ms must be integers (e.g. 4096+8)") from None
    if data < 512 or data & (data - 1):
        raise PifioError(f"format {spec!r}: data size {data} must be a power of two >= 512")
    if ms < 0 or ms > 128:
        raise PifioError(f"format {spec!r}: metadata size {ms} out of range 0..128")
    pi = guard = first = ext = None
    for f in fields:
        if f in ("t0", "t1", "t2", "t3"):
            if pi is not None:
                raise PifioError(f"format {spec!r}: PI type given twice")
            pi = int(f[1])
        elif f in ("g16", "g64"):
            if guard is not None:
                raise PifioError(f"format {spec!r}: guard given twice")
            guard = int(f[1:])
        elif f in ("first", "last"):
            if first is not None:
                raise PifioError(f"format {spec!r}: PI location given twice")
            first = f == "first"
        elif f in ("sep", "ext"):
            if ext is not None:
                raise PifioError(f"format {spec!r}: layout given twice")
            ext = f == "ext"
        else:
            raise PifioError(f"format {spec!r}: unknown field {f!r} "
                             "(want t0..t3, g16|g64, first|last, sep|ext)")
    fmt = Format(data=data, ms=ms,
                 pi=(1 if ms >= 8 else 0) if pi is None else pi,
                 guard=guard or 16, first=bool(first), ext=bool(ext))
    if fmt.pi and fmt.ms < fmt.tuple_size:
        raise PifioError(f"format {spec!r}: PI type {fmt.pi} with g{fmt.guard} needs ms >= "
                         f"{fmt.tuple_size}, got {ms} (use t0 or a larger ms)")
    if fmt.ext and fmt.ms == 0:
        raise PifioError(f"format {spec!r}: ext needs ms > 0")
    return fmt
