#!/usr/bin/python3
"""pitool command-line tests: pipes data through pitool and checks outputs
and exit codes. Usage: pitool_cli_test.py PATH/TO/pitool"""
import os
import random
import re
import subprocess
import sys
import tempfile

PITOOL = sys.argv[1] if len(sys.argv) > 1 else "pitool"
failures = []


def run(args, data=b""):
    p = subprocess.run([PITOOL] + args, input=data, capture_output=True, timeout=60)
    return p.returncode, p.stdout, p.stderr.decode()


def check(cond, what):
    if not cond:
        failures.append(what)
        print("FAIL:", what)


# Independent bit-serial CRCs (DESIGN §3).
def crc16(data, crc=0):
    for b in data:
        crc ^= b << 8
        for _ in range(8):
            crc = ((crc << 1) ^ 0x8BB7) & 0xFFFF if crc & 0x8000 else (crc << 1) & 0xFFFF
    return crc


def crc64(data):
    poly = int("{:064b}".format(0xAD93D23594C93659)[::-1], 2)
    crc = 0xFFFFFFFFFFFFFFFF
    for b in data:
        crc ^= b
        for _ in range(8):
            crc = (crc >> 1) ^ poly if crc & 1 else crc >> 1
    return crc ^ 0xFFFFFFFFFFFFFFFF


rng = random.Random(1)
tmp = tempfile.mkdtemp(prefix="pitool-test-")

# --- crc16 / crc64 ---------------------------------------------------------
path = os.path.join(tmp, "check.txt")
with open(path, "wb") as f:
    f.write(b"123456789")
rc, out, _ = run(["crc16", path])
check(rc == 0 and out == b"0xd0db\n", "crc16 FILE of 123456789 = 0xd0db, got %r rc %d" % (out, rc))
rc, out, _ = run(["crc64", path])
check(rc == 0 and out == b"0xae8b14860a799888\n", "crc64 FILE = 0xae8b14860a799888, got %r" % out)
rc, out, _ = run(["crc16", "-"], b"123456789")
check(out == b"0xd0db\n", "crc16 - reads stdin")
rc, out, _ = run(["crc64"], bytes(4096))
check(out == b"0x6482d367eb22b64e\n", "crc64 of 4096 zero bytes (NVMe spec), got %r" % out)
rc, out, _ = run(["crc16"], b"")
check(out == b"0x0000\n", "crc16 of empty input is 0x0000 zero-padded, got %r" % out)
rc, out, _ = run(["crc64"], b"")
check(out == b"0x0000000000000000\n", "crc64 of empty input, got %r" % out)
big = bytes(rng.getrandbits(8) for _ in range(3 * (1 << 20) + 77))  # crosses pitool's 1 MiB reads
T16 = [crc16(bytes([i])) for i in range(256)]
c = 0
for b in big:  # table form of the same CRC, fast enough for 3 MiB
    c = ((c << 8) & 0xFFFF) ^ T16[(c >> 8) ^ b]
rc, out, _ = run(["crc16"], big)
check(out == b"0x%04x\n" % c, "crc16 chains across pitool's 1 MiB reads, got %r want 0x%04x" % (out, c))
small = big[:5000]
rc, out, _ = run(["crc16"], small)
check(out == b"0x%04x\n" % crc16(small), "crc16 of 5000 random bytes matches bit-serial")
rc, out, _ = run(["crc64"], small)
check(out == b"0x%016x\n" % crc64(small), "crc64 of 5000 random bytes matches bit-serial")
rc, out, err = run(["crc16", os.path.join(tmp, "missing")])
check(rc == 2 and "cannot open" in err, "crc16 of a missing file: exit 2, says cannot open")
rc, _, err = run(["crc16", "a", "b"])
check(rc == 2 and "usage" in err, "crc16 with two files is a usage error")

# --- gen / check, interleaved ----------------------------------------------
raw = bytes(rng.getrandbits(8) for _ in range(512 * 10))
rc, ext, err = run(["gen", "512+8/t1/ext", "--lba", "100", "--apptag", "0x1234"], raw)
check(rc == 0 and len(ext) == 520 * 10, "gen ext writes 10 blocks of 520 bytes (rc %d %s)" % (rc, err))
blk0 = ext[0:520]
check(blk0[:512] == raw[:512], "gen ext keeps the data")
check(int.from_bytes(blk0[512:514], "big") == crc16(raw[:512]), "gen ext guard = CRC16 of the block")
check(blk0[514:516] == b"\x12\x34", "gen ext app tag")
check(int.from_bytes(blk0[516:520], "big") == 100, "gen ext ref tag = lba 100")
check(int.from_bytes(ext[520 * 9 + 516:520 * 10], "big") == 109, "ref tag of block 9 = 109")
rc, out, err = run(["check", "512+8/t1/ext", "--lba", "100", "--apptag", "0x1234"], ext)
check(rc == 0 and out == b"", "check of clean data: exit 0, no output (rc %d, %r, %s)" % (rc, out, err))

bad = bytearray(ext)
bad[520 * 3 + 7] ^= 0x40  # data byte of block 3 -> guard mismatch at lba 103
rc, out, _ = run(["check", "512+8/t1/ext", "--lba", "100", "--apptag", "0x1234"], bytes(bad))
want = crc16(bytes(bad[520 * 3:520 * 3 + 512]))
got = crc16(raw[512 * 3:512 * 4])
line = "lba 103: guard got 0x%04x, want 0x%04x\n" % (got, want)
check(rc == 1 and out.decode() == line, "guard corruption: exit 1 and %r, got %r rc %d" % (line, out, rc))

rc, out, _ = run(["check", "512+8/t1/ext", "--lba", "100", "--apptag", "0x1235"], ext)
lines = out.decode().splitlines()
check(rc == 1 and len(lines) == 10 and lines[0] == "lba 100: apptag got 0x1234, want 0x1235",
      "app tag mismatch: one line per block, got %r" % lines[:2])
rc, out, _ = run(["check", "512+8/t1/ext", "--lba", "100", "--apptag", "0x1235", "--appmask", "0xfff0"], ext)
check(rc == 0, "app tag mask hides the low nibble")
rc, out, _ = run(["check", "512+8/t1/ext", "--lba", "101", "--apptag", "0x1234"], ext)
check(rc == 1 and out.decode().splitlines()[0] == "lba 101: reftag got 0x00000064, want 0x00000065",
      "wrong --lba: reftag lines, got %r" % out[:80])

rc, out, err = run(["check", "512+8/t1/ext"], ext[:-5])
check(rc == 2 and "truncated" in err and "block 9" in err, "truncated last block: exit 2 and names block 9 (%s)" % err)
rc, out, err = run(["gen", "512+8/t1/ext"], raw[:-1])
check(rc == 2 and "block 9" in err, "gen of a truncated block: exit 2 and names it (%s)" % err)

# --- separate metadata, 64b guard ------------------------------------------
md = os.path.join(tmp, "md.bin")
raw4 = bytes(rng.getrandbits(8) for _ in range(4096 * 3))
rc, data, err = run(["gen", "4096+16/t1/g64", "--lba", "7", "--md", md], raw4)
mdb = open(md, "rb").read()
check(rc == 0 and data == raw4 and len(mdb) == 48, "gen sep: data unchanged, 16 bytes md per block (%s)" % err)
check(int.from_bytes(mdb[0:8], "big") == crc64(raw4[:4096]), "gen sep g64 guard = CRC64-NVMe of the block")
check(int.from_bytes(mdb[16 + 10:32], "big") == 8, "48-bit ref tag of block 1 = 8")
rc, out, err = run(["check", "4096+16/t1/g64", "--lba", "7", "--md", md], data)
check(rc == 0, "check sep clean (rc %d %s)" % (rc, err))
with open(md, "r+b") as f:
    f.seek(16 * 2 + 15)
    f.write(b"\x00")
rc, out, _ = run(["check", "4096+16/t1/g64", "--lba", "7", "--md", md], data)
check(rc == 1 and out.decode() == "lba 9: reftag got 0x000000000000, want 0x000000000009\n",
      "g64 ref corruption line, got %r" % out)
with open(md, "r+b") as f:
    f.truncate(40)
rc, out, err = run(["check", "4096+16/t1/g64", "--lba", "7", "--md", md], data)
check(rc == 2 and "truncated metadata" in err and "block 2" in err, "short --md: exit 2, names block 2 (%s)" % err)

# Type 3 with first location; escapes: all-0xFF blocks pass.
rc, out, err = run(["check", "512+8/t3/first/ext"], b"\xff" * 520 * 4)
check(rc == 0 and "4 escaped" in err, "all-0xFF type 3 blocks escape (%s)" % err)

# --- usage errors ------------------------------------------------------------
for args, needle in [
    (["gen"], "missing FORMAT"),
    (["gen", "512+4/t1/ext"], "ms 4"),
    (["check", "512+8/t9"], "unknown field 't9'"),
    (["gen", "512+8/t1"], "--md FILE"),
    (["gen", "512+8/t1/ext", "--md", md], "no separate metadata"),
    (["gen", "512+8/t1/ext", "--lba"], "needs a value"),
    (["gen", "512+8/t1/ext", "--lba", "12x"], "--lba"),
    (["gen", "512+8/t1/ext", "--apptag", "0x10000"], "--apptag"),
    (["gen", "512+8/t1/ext", "--ref", "0x100000000"], "32-bit"),
    (["gen", "512+8/t1/ext", "--bogus", "1"], "unknown option"),
    (["frob"], "unknown command"),
]:
    rc, _, err = run(args, b"")
    check(rc == 2 and needle in err, "%s: exit 2 mentioning %r, got rc %d: %s" % (args, needle, rc, err.strip()))
rc, out, _ = run(["--help"])
check(rc == 0 and b"crc16" in out and b"check" in out, "--help lists the commands")

# pitool cpu: names the active implementation, and it is one the CPU supports.
rc, out, err = run(["cpu"])
lines = dict(l.split(": ", 1) for l in out.decode().splitlines() if ": " in l)
check(rc == 0 and lines.get("crc") in ("table", "pclmul", "vpclmul-avx2", "vpclmul-avx512"),
      "cpu prints the active implementation (%r)" % out)
check(lines.get(lines.get("crc", "?")) == "supported", "the active implementation is supported (%r)" % out)
check("probe" in lines and lines["probe"].strip() != "", "cpu prints the probe note (%r)" % out)
rc, _, err = run(["cpu", "x"])
check(rc == 2 and "no arguments" in err, "cpu with an argument: exit 2 (%s)" % err)

if failures:
    print("%d failure(s)" % len(failures))
    sys.exit(1)
print("pitool CLI: all checks passed")
