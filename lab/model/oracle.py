"""The host's PI oracle (CRC16-T10DIF, CRC64-NVMe, tuple decoding): for the lab, check what a guest left in a QEMU
backing file without trusting any guest code (DESIGN §3). Slow and simple
(table-driven Python); for a handful of blocks in tests, not for bulk data.
"""
from __future__ import annotations

from .formats import Format


def _t10_table() -> list[int]:
    t = []
    for i in range(256):
        c = i << 8
        for _ in range(8):
            c = ((c << 1) ^ 0x8BB7) & 0xFFFF if c & 0x8000 else (c << 1) & 0xFFFF
        t.append(c)
    return t


def _nvme64_table() -> list[int]:
    poly = 0x9A6C9329AC4BC9B5   # bit-reversed 0xAD93D23594C93659
    t = []
    for i in range(256):
        c = i
        for _ in range(8):
            c = (c >> 1) ^ poly if c & 1 else c >> 1
        t.append(c)
    return t


_T16 = _t10_table()
_T64 = _nvme64_table()


def crc16_t10dif(data: bytes, crc: int = 0) -> int:
    for b in data:
        crc = ((crc << 8) & 0xFFFF) ^ _T16[((crc >> 8) ^ b) & 0xFF]
    return crc


def crc64_nvme(data: bytes, crc: int = 0) -> int:
    """Chains like the C++ one: pass the previous finished CRC as crc."""
    c = crc ^ 0xFFFFFFFFFFFFFFFF
    for b in data:
        c = (c >> 8) ^ _T64[(c ^ b) & 0xFF]
    return c ^ 0xFFFFFFFFFFFFFFFF


def decode(fmt: Format, md: bytes) -> dict:
    """Tuple fields of one block's metadata bytes: guard, app, ref."""
    t = md[fmt.pi_offset: fmt.pi_offset + fmt.tuple_size]
    if fmt.guard == 16:
        return {"guard": int.from_bytes(t[0:2], "big"), "app": int.from_bytes(t[2:4], "big"),
                "ref": int.from_bytes(t[4:8], "big")}
    return {"guard": int.from_bytes(t[0:8], "big"), "app": int.from_bytes(t[8:10], "big"),
            "ref": int.from_bytes(t[10:16], "big")}


def guard_for(fmt: Format, data: bytes, md: bytes) -> int:
    """Guard over the block data then the metadata bytes before the tuple."""
    pre = md[: fmt.pi_offset]
    if fmt.guard == 16:
        return crc16_t10dif(pre, crc16_t10dif(data))
    return crc64_nvme(pre, crc64_nvme(data))


def check_block(fmt: Format, data: bytes, md: bytes, *, ref: int | None, app: int | None = None) -> list[str]:
    """Mismatches of one block as 'field got 0x…, want 0x…' (empty when good).
    ref None: do not check the ref tag (type 3)."""
    f = decode(fmt, md)
    errs = []
    g = guard_for(fmt, data, md)
    if f["guard"] != g:
        errs.append(f"guard got {f['guard']:#x}, want {g:#x}")
    if app is not None and f["app"] != app:
        errs.append(f"app got {f['app']:#x}, want {app:#x}")
    if ref is not None:
        mask = 0xFFFFFFFF if fmt.guard == 16 else 0xFFFFFFFFFFFF
        if f["ref"] != ref & mask:
            errs.append(f"ref got {f['ref']:#x}, want {ref & mask:#x}")
    return errs
