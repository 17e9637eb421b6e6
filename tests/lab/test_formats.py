#!/usr/bin/python3
"""Format specs, QEMU property mapping, backing-file layout math, host CRCs (no guest)."""
import labtest
from labtest import check
from lab.core.env import PifioError
from lab.model import formats, oracle

f = formats.parse("4096+8")
check(f == formats.Format(4096, 8, 1, 16, False, False), "4096+8 defaults to t1/g16/last/sep")
check(formats.parse("512+0").pi == 0, "ms 0 defaults to t0")
f = formats.parse("4096+64/t2/g64/first")
check((f.pi, f.guard, f.first, f.tuple_size, f.pi_offset) == (2, 64, True, 16, 0), "4096+64/t2/g64/first fields")
check(formats.parse("4096+16/t1/g64").pi_offset == 0, "4096+16/g64 tuple fills the metadata")
check(formats.parse("4096+64/t1").pi_offset == 56, "4096+64 PI last at 56")
check(formats.parse("512+8/t1/ext").lba_size == 520, "512+8/ext transfers 520 bytes per block")
check(formats.parse("512+8/t3/first").qemu_props() ==
      {"logical_block_size": 512, "physical_block_size": 512, "ms": 8, "mset": 0, "pi": 3, "pil": 1, "pif": 0},
      "512+8/t3/first -> nvme-ns properties")
check(formats.parse("4096+16/t1/g64/ext").qemu_props()["pif"] == 2 and
      formats.parse("4096+16/t1/g64/ext").qemu_props()["mset"] == 1, "g64 -> pif=2, ext -> mset=1")
for spec in ["4096+8/t1", "512+8/t3/first", "4096+16/t1/g64", "4096+64/t2/g64/first", "512+8/t1/ext", "4096+0"]:
    check(formats.parse(formats.parse(spec).short()) == formats.parse(spec), f"{spec} short form round-trips")
    check(formats.parse(formats.parse(spec).canonical()) == formats.parse(spec), f"{spec} canonical round-trips")
for bad, word in [("4096", "<data>+<ms>"), ("1000+8", "power of two"), ("4096+4/t1", "ms >="),
                  ("4096+8/t1/t2", "twice"), ("4096+8/x", "unknown field"), ("4096+16/g64/g16", "twice")]:
    try:
        formats.parse(bad)
        check(False, f"{bad} rejected")
    except PifioError as e:
        check(word in str(e), f"{bad} rejected: {e}")

# layout: 64 MiB of 4096+8 -> nlbas = 67108864 // 4104
f = formats.parse("4096+8/t1")
n = 67108864 // 4104
check(f.nlbas(64 << 20) == n, "nlbas = size // (data + ms)")
check(f.md_offset(64 << 20, 3) == n * 4096 + 24, "metadata after all data")
check(f.tuple_offset(64 << 20, 3, "ref") == (n * 4096 + 24 + 4, 4), "ref tag offset, 16b guard")
g = formats.parse("4096+64/t2/g64/first")
m = (64 << 20) // (4096 + 64)
check(g.tuple_offset(64 << 20, 1, "ref") == (m * 4096 + 64 + 10, 6), "ref tag offset, 64b guard, PI first")

check(oracle.crc16_t10dif(b"123456789") == 0xD0DB, "CRC16-T10DIF check value")
check(oracle.crc64_nvme(b"123456789") == 0xAE8B14860A799888, "CRC64-NVMe check value")
check(oracle.crc64_nvme(bytes(i % 256 for i in range(4096))) == 0x3E729F5F6750449C, "CRC64-NVMe spec vector")
raise SystemExit(labtest.finish())
