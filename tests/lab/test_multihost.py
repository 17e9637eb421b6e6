#!/usr/bin/python3
"""Multi-host: two lab guests run fio --server (QEMU user net, hostfwd on
127.0.0.1), one host fio client runs a PI job on both (fio's io_uring_cmd on
each guest's 4096+8/t1 namespace: sequential write, then 4 KiB randread with
guard/ref/app checked), and analysis ingests the client output per host:
distinct host:port names, IOPS > 0 on each host, an "All clients" sum; the
guests came down cleanly (script rc 0, not killed).

usage: test_multihost.py [KERNEL]   (default 6.1: the quickest boot)
"""
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import labtest
from labtest import check
from lab.model import fioopts, formats

kernel = sys.argv[1] if len(sys.argv) > 1 else "6.1"
labtest.need_qemu()
labtest.need_kernel(kernel)
labtest.need_fio_in_guest()

from lab.targets import multihost  # noqa: E402
from analysis.store import Store  # noqa: E402

FMT = formats.parse("4096+8/t1")


def job_file(dev: str) -> str:
    bs, md = fioopts.io_size(FMT)
    g = ["[global]", "ioengine=io_uring_cmd", "cmd_type=nvme", f"filename={dev}", f"bs={bs}",
         f"md_per_io_size={md}", "pi_act=0", f"pi_chk={fioopts.pi_chk(FMT)}",
         f"apptag={fioopts.APPTAG:#x}", "apptag_mask=0xffff", "size=4m"]
    return "\n".join(g + ["", "[write]", "rw=write", "", "[randread]", "stonewall", "rw=randread",
                          "time_based=1", "runtime=2", "randrepeat=1", ""])


tmp = Path(tempfile.mkdtemp(prefix="pifio-test-multihost-"))
fio = multihost.host_fio()
t0 = time.monotonic()
with multihost.fio_servers(2, kernel, ["4096+8/t1"], ns_size=32 << 20, timeout=360, boot_timeout=240,
                           run_root=tmp, on_event=print) as servers:
    t_up = time.monotonic() - t0
    gs = servers.guests
    check(len(servers) == 2 and len({p for _, p in servers}) == 2 and all(h == "127.0.0.1" for h, _ in servers),
          f"two servers on distinct 127.0.0.1 ports: {list(servers)}")
    check(all(1 in g.devices for g in gs), f"each guest reported nsid 1's devices: {[g.devices for g in gs]}")
    jobs = []
    for g in gs:
        p = tmp / f"job.{g.index}.fio"
        p.write_text(job_file(g.devices.get(1, {}).get("char", "/dev/ng0n1")))
        jobs.append(p)
    argv = multihost.client_argv(fio, servers, jobs)
    t1 = time.monotonic()
    r = subprocess.run(argv, capture_output=True, text=True, timeout=180)
    t_client = time.monotonic() - t1
    out = tmp / "clients.json"
    out.write_text(r.stdout)
    check(r.returncode == 0, f"fio client rc {r.returncode} {r.stderr[-1500:]}")
t_all = time.monotonic() - t0
print(f"servers up {t_up:.1f} s (guests: {[g.up_s for g in gs]}), client {t_client:.1f} s, total {t_all:.1f} s, "
      f"output {out}")

st = Store(":memory:")
st.ingest_plain_file(str(out))
from analysis import compare as cmp  # noqa: E402
samples = st.samples(cmp.Side(str(out), ["plain:" + str(out.resolve())]).run_keys)
want = {f"{h}:{p}" for h, p in servers}
hosts = {s["host"] for s in samples if not s["aggregate"]}
check(hosts == want, f"ingested hosts {sorted(hosts)} == {sorted(want)}")
check(any(s["aggregate"] for s in samples), "the 'All clients' sum is ingested too")
for h in sorted(want):
    mine = {s["jobname"]: s for s in samples if s["host"] == h}
    check(set(mine) == {"write", "randread"}, f"{h}: jobs {sorted(mine)}")
    for name, s in sorted(mine.items()):
        d = next(iter(s["dirs"].values()), None)
        iops = d["iops"] if d else 0
        check(d is not None and iops > 0 and d["total_ios"] > 0
              and d["bins"] is not None and len(d["bins"]) > 0,
              f"{h} {name}: IOPS {iops:.0f}, {d['total_ios'] if d else 0} I/Os, bins present, error {s.get('error')}")
        check(not s.get("error"), f"{h} {name}: no fio error (PI checked by fio and QEMU)")
for g in gs:
    res = g.result
    check(res is not None and res.ok, f"guest {g.index} ended cleanly ({res.why() if res and not res.ok else 'rc 0'})")
    check(res is not None and "PIFIO-SERVER-STOP" in res.console_log.read_text(errors="replace"),
          f"guest {g.index} stopped through its stop port (wall {res.wall_s if res else 0:.1f} s)")
sys.exit(labtest.finish())
