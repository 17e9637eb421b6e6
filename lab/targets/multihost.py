"""Multi-host runs with fio's client/server: N lab guests each run `fio --server`,
the host runs one `fio --client=… job --client=… job` over all of them.

    from lab.targets.multihost import fio_servers
    with fio_servers(2, kernel="6.1") as servers:      # [("127.0.0.1", 40123), ("127.0.0.1", 40125)]
        subprocess.run(["fio", "--output-format=json+",
                        "--client=ip:127.0.0.1,40123", "job.fio", "--client=ip:127.0.0.1,40125", "job.fio"])
    servers.guests[0].result                           # lab.guest.GuestResult once the guests are down

Each guest is an ordinary lab.guest.boot_and_run boot (in a thread) with a
QEMU user-mode network (`-netdev user,restrict=on` — no route out of the guest)
whose only openings are two forwards bound to 127.0.0.1 on the host:
    127.0.0.1:<port>      -> guest 10.0.2.15:8765   fio --server
    127.0.0.1:<stop port> -> guest 10.0.2.15:8766   a connection here ends the guest's script
The guest loads virtio_net (a module on the Debian cloud kernels, with
net_failover/failover), sets a static address (QEMU's slirp default
10.0.2.15/24), starts fio --server and prints PIFIO-SERVER-UP when the port
listens. Leaving the `with` connects to every stop port (the guest then brings
its results back and powers off as usual); a guest not down within
`stop_grace` seconds, and every guest on an error or Ctrl-C, is killed
(QEMU's -pidfile). Every boot has a hard timeout (boot_and_run's), and the
guest itself powers off before it.

`./pifio run --hosts N` (lab.commands.run hands the plan to run()) runs the usual
scenarios (format × engine × default jobs, or --jobs files) that way: one
client run per job over all guests, the fio JSON+ with one entry per host in
results/<run-id>/<scenario>/<job>.json, which analysis ingests per host
("job@127.0.0.1:port", plus "All clients@*").
"""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from shared.progress import Progress
from shared.runschema import utc_now

from .. import guest, kernels
from ..core.env import CACHE, PifioError, log
from ..guest import BASE_CMDLINE, initramfs
from ..guest.console import parse_line
from ..model import fioopts, formats
from ..runs import meta
from ..runs.plan import RunPlan, plan_boot
from ..runs.summary import hosts_summary, summary
from . import Outcome

LOOPBACK = "127.0.0.1"          # the only host address anything here binds or connects to
GUEST_IP = "10.0.2.15"          # QEMU slirp's default guest address
GUEST_FIO_PORT = 8765           # fio's default server port
GUEST_STOP_PORT = 8766
NET_MODULES = ["virtio_net"]    # + net_failover, failover (modules.dep)

SERVER_SCRIPT = r"""
set +e
# network: the first interface that is not lo (virtio_net was loaded by /init)
net=""
i=0
while [ -z "$net" ]; do
    for d in /sys/class/net/*; do
        n=${d##*/}
        [ "$n" = lo ] || { net=$n; break; }
    done
    [ -n "$net" ] && break
    i=$((i + 1))
    [ $i -ge 100 ] && { echo "PIFIO-SERVER-FAILED no network interface (virtio_net?)"; exit 1; }
    sleep 0.1
done
ip link set lo up
ip link set "$net" up
ip addr add __GUEST_IP__/24 dev "$net"
ip addr show > net.txt 2>&1
for n in $PIFIO_NSIDS; do
    eval "echo PIFIO-SERVER-NS $n \$PIFIO_NG_$n \$PIFIO_BLK_$n"
done
mkdir -p /results/server
cd /results/server
fio --server=ip:0.0.0.0,__FIO_PORT__ > /results/fio-server.log 2>&1 &
fpid=$!
i=0
until netstat -ltn 2>/dev/null | grep -q ':__FIO_PORT__ '; do
    if ! kill -0 $fpid 2>/dev/null; then
        echo "PIFIO-SERVER-FAILED fio --server exited: $(tail -n 3 /results/fio-server.log)"
        exit 1
    fi
    i=$((i + 1))
    [ $i -ge 300 ] && { echo "PIFIO-SERVER-FAILED fio --server not listening after 30 s"; kill $fpid; exit 1; }
    sleep 0.1
done
echo "PIFIO-SERVER-UP $net __GUEST_IP__:__FIO_PORT__ uptime=$(cut -d' ' -f1 /proc/uptime)"
nc -l -p __STOP_PORT__ < /dev/null > /dev/null 2>&1
echo "PIFIO-SERVER-STOP uptime=$(cut -d' ' -f1 /proc/uptime)"
kill $fpid 2>/dev/null
wait $fpid 2>/dev/null
exit 0
"""


def free_ports(n: int) -> list[int]:
    """n distinct free TCP ports on 127.0.0.1 (bound to 0 together, then released)."""
    socks = []
    try:
        for _ in range(n):
            s = socket.socket()
            s.bind((LOOPBACK, 0))
            socks.append(s)
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


@dataclass
class Guest:
    """One fio server guest (lab.guest.boot_and_run in a thread)."""
    index: int
    port: int                       # host port forwarded to the guest's fio --server
    stop_port: int
    run_dir: Path
    up: threading.Event = field(default_factory=threading.Event)
    up_s: float | None = None       # host seconds from start until fio --server listened
    failed: str | None = None       # PIFIO-SERVER-FAILED text, or the exception of the boot
    devices: dict = field(default_factory=dict)   # nsid -> {"char": /dev/ngXnY, "block": /dev/nvmeXnY}
    result: guest.GuestResult | None = None
    thread: threading.Thread | None = None

    @property
    def name(self) -> str:
        return f"{LOOPBACK}:{self.port}"

    def qemu_args(self) -> list[str]:
        fwd = (f"hostfwd=tcp:{LOOPBACK}:{self.port}-:{GUEST_FIO_PORT},"
               f"hostfwd=tcp:{LOOPBACK}:{self.stop_port}-:{GUEST_STOP_PORT}")
        return ["-netdev", f"user,id=n0,restrict=on,{fwd}", "-device", "virtio-net-pci,netdev=n0",
                "-pidfile", str(self.run_dir / "qemu.pid")]

    def on_line(self, t0: float):
        def hook(line: str):
            m = parse_line(line)
            if m is None:
                return
            if m.tag == "SERVER-NS":
                a = m.args
                if len(a) >= 3 and a[0].isdigit():
                    self.devices[int(a[0])] = {"char": a[1], "block": a[2]}
            elif m.tag == "SERVER-UP":
                self.up_s = round(time.monotonic() - t0, 1)
                self.up.set()
            elif m.tag == "SERVER-FAILED":
                self.failed = m.text.strip() or "fio --server failed"
                self.up.set()
        return hook

    def alive(self) -> bool:
        return self.thread is not None and self.thread.is_alive()

    def stop(self) -> None:
        """Ask the guest to end its script (a connection to its stop port)."""
        try:
            socket.create_connection((LOOPBACK, self.stop_port), timeout=2).close()
        except OSError:
            pass

    def kill(self) -> None:
        """SIGKILL this guest's QEMU (pid from -pidfile, checked against its command line)."""
        pidf = self.run_dir / "qemu.pid"
        try:
            pid = int(pidf.read_text().strip())
            cmd = Path(f"/proc/{pid}/cmdline").read_bytes()
        except (OSError, ValueError):
            return
        if str(self.run_dir).encode() in cmd:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass


def unavailable(kernel=None) -> str | None:
    """Why fio_servers() cannot run here (None when it can): for tests to skip."""
    if not guest.qemu_available():
        return f"{guest.QEMU} not installed (./pifio setup installs qemu-system-x86)"
    try:
        kernels.resolve(kernel or kernels.DEFAULT, fetch_missing=False)
    except PifioError as e:
        return str(e)
    if meta.guest_fio() is None:
        return "no fio 3.41 build (build/bin/fio or the setup cache); run ./pifio setup"
    return None


class Servers(list):
    """[(host, port)] of the running fio servers; .guests has the details."""
    guests: list[Guest]


@contextmanager
def fio_servers(n: int = 2, kernel=None, namespaces=("4096+8/t1",), *, ns_size: int = 64 << 20,
                timeout: float = 600, boot_timeout: float = 240, stop_grace: float = 60,
                smp: int = 1, mem: str = "1G", run_root: Path | None = None, modules=(),
                on_event=None):
    """Boot n guests running fio --server; yield Servers [(\"127.0.0.1\", port)].

    kernel: name/path/Kernel (default lab.kernels.DEFAULT); namespaces: format
    specs (or lab.guest.Namespace) given to every guest, ns_size bytes each.
    timeout: hard limit of each guest's whole life (boot + your client runs);
    boot_timeout: until every fio server listens, else PifioError (guests killed).
    on_event(str): progress messages. run_root: where host<i>/ run dirs go
    (default a new dir under CACHE/guests; kept: console.log, results/).
    """
    if n < 1:
        raise PifioError("need at least one host")
    if not guest.qemu_available():
        raise PifioError(f"{guest.QEMU} not found; run ./pifio setup")
    k = kernels.resolve(kernel or kernels.DEFAULT)
    say = on_event or (lambda s: None)
    if run_root is None:
        guest.GUESTS.mkdir(parents=True, exist_ok=True)
        run_root = Path(CACHE / "guests" / time.strftime(f"%Y%m%d-%H%M%S-multihost-{os.getpid()}"))
    run_root = Path(run_root)
    # Build the cached initramfs parts once here: the guests' threads would race writing them.
    initramfs.base([])
    initramfs.modules(k, NET_MODULES + list(modules))

    ports = free_ports(2 * n)
    guests = [Guest(i, ports[2 * i], ports[2 * i + 1], run_root / f"host{i}") for i in range(n)]
    nss = []
    for i, ns in enumerate(namespaces, 1):
        nss.append(ns if isinstance(ns, guest.Namespace) else guest.Namespace(ns, size=ns_size, nsid=i))
    script = (SERVER_SCRIPT.replace("__GUEST_IP__", GUEST_IP)
              .replace("__FIO_PORT__", str(GUEST_FIO_PORT)).replace("__STOP_PORT__", str(GUEST_STOP_PORT)))

    def boot(g: Guest, t0: float):
        try:
            g.result = guest.boot_and_run(k, nss, script=script, timeout=timeout, smp=smp, mem=mem,
                                          modules=NET_MODULES + list(modules), run_dir=g.run_dir,
                                          on_line=g.on_line(t0), qemu_args=g.qemu_args())
        except BaseException as e:   # reported by the main thread
            g.failed = g.failed or f"{type(e).__name__}: {e}"
        finally:
            g.up.set()

    old_term = None
    if threading.current_thread() is threading.main_thread():
        # SIGTERM (e.g. a test harness timeout) unwinds like Ctrl-C so the guests get killed.
        def _term(signum, frame):
            raise KeyboardInterrupt("SIGTERM")
        old_term = signal.signal(signal.SIGTERM, _term)
    servers = Servers((LOOPBACK, g.port) for g in guests)
    servers.guests = guests
    clean = False
    try:
        t0 = time.monotonic()
        for g in guests:
            g.run_dir.mkdir(parents=True, exist_ok=True)
            g.thread = threading.Thread(target=boot, args=(g, t0), name=f"pifio-guest{g.index}", daemon=True)
            g.thread.start()
        say(f"booting {n} guest(s) on {k.release}: fio --server on "
            + ", ".join(f"{LOOPBACK}:{g.port}" for g in guests))
        deadline = t0 + boot_timeout
        for g in guests:
            if not g.up.wait(max(0.0, deadline - time.monotonic())):
                raise PifioError(f"guest {g.index}: fio --server not up after {boot_timeout:.0f} s "
                                 f"(console: {g.run_dir / 'console.log'})")
            if g.failed or not g.alive() and g.up_s is None:
                raise PifioError(f"guest {g.index}: {g.failed or 'guest ended before fio --server was up'} "
                                 f"(console: {g.run_dir / 'console.log'})")
        say("fio servers up after " + ", ".join(f"{g.up_s} s" for g in guests))
        yield servers
        clean = True
    finally:
        try:
            if clean:
                for g in guests:
                    g.stop()
                end = time.monotonic() + stop_grace
                for g in guests:
                    if g.thread:
                        g.thread.join(max(0.0, end - time.monotonic()))
        finally:
            # Kill what is still up; retry: a guest may be before its QEMU wrote the pidfile.
            for _ in range(12):
                left = [g for g in guests if g.alive()]
                if not left:
                    break
                for g in left:
                    g.kill()
                for g in left:
                    g.thread.join(5)
            if old_term is not None:
                signal.signal(signal.SIGTERM, old_term)
    for g in guests:
        r = g.result
        if r is not None and not r.ok:
            log(f"guest {g.index}: {r.why()}")


def host_fio() -> Path:
    """The fio the client runs: the same build the guests get (protocol versions must match)."""
    fio = meta.guest_fio()
    if fio is None:
        raise PifioError("no fio 3.41 build (build/bin/fio or the setup cache); run ./pifio setup")
    return Path(fio)


def client_argv(fio, servers, jobs) -> list[str]:
    """fio --client=ip:HOST,PORT JOB ... for every server; jobs: one job file for all, or one per server."""
    jobs = list(jobs) if isinstance(jobs, (list, tuple)) else [jobs] * len(servers)
    if len(jobs) != len(servers):
        raise PifioError(f"{len(jobs)} job files for {len(servers)} servers")
    argv = [str(fio), "--output-format=json+"]
    for (h, p), j in zip(servers, jobs):
        if h != LOOPBACK:
            raise PifioError(f"lab servers are on {LOOPBACK} only, not {h}")
        argv += [f"--client=ip:{h},{p}", str(j)]
    return argv


# ------------------------------------------------------------- ./pifio run --hosts N --

def run(p: RunPlan) -> Outcome:
    """./pifio run --hosts N."""
    if p.hosts < 1:
        raise PifioError("--hosts wants at least 1")
    if len(p.kernels) > 1:
        print("pifio run: --hosts takes one --kernel", file=sys.stderr)
        return Outcome(2)
    kname = p.kernels[0]
    k = kernels.resolve(kname, p.modules)
    specs = p.specs
    scs, _ = plan_boot(k, specs, p.engines, ["none"], p.workloads(), p.jobs)
    runnable = [s for s in scs if not s.skipped]
    stamp = utc_now()
    run_id = p.run_id_for(kname, stamp, f"-{p.hosts}hosts")
    rdir = p.results / run_id
    if rdir.exists():
        raise PifioError(f"{rdir} exists; pick another --run-id")
    rdir.mkdir(parents=True)
    fio = host_fio()
    nsz = p.ns_size
    m = meta.new(run_id, stamp,
                 host={**meta.host(), "multihost": {"hosts": p.hosts, "transport": "fio client/server, "
                                                    "QEMU user net, hostfwd 127.0.0.1"}},
                 kernel=meta.kernel(k, BASE_CMDLINE), fio=meta.fio(), engine=meta.engine(),
                 guest={"smp": p.smp, "mem": p.mem, "hosts": p.hosts,
                        "namespaces": [{"nsid": i, "format": formats.parse(s).canonical(), "size": nsz}
                                       for i, s in enumerate(specs, 1)]},
                 command=meta.command(), scenarios={s.name: s.meta() for s in scs})
    meta.write(rdir, m)
    for s in scs:
        if s.skipped:
            log(f"skip {s.name}: {s.skipped}")
    if not runnable:
        log(f"{run_id}: nothing to run")
        print(summary(rdir, scs))
        return Outcome(0, [rdir])

    njobs = sum(len(s.job_names()) for s in runnable)
    per_job = max(20, p.runtime + 20)
    timeout = p.timeout or (240 + njobs * per_job)
    prog = Progress(total=njobs, what=f"{p.hosts} hosts {kname}")
    prog.start("booting")
    status = 0
    try:
        with fio_servers(p.hosts, k, specs, ns_size=nsz, timeout=timeout, smp=p.smp, mem=p.mem,
                         run_root=rdir / "guest", on_event=log) as servers:
            m["guest"]["servers"] = [{"host": h, "port": port, "up_s": g.up_s, "devices": g.devices}
                                     for (h, port), g in zip(servers, servers.guests)]
            for s in runnable:
                sdir = rdir / s.name
                sdir.mkdir(exist_ok=True)
                for j in s.job_names():
                    prog.start(f"{s.name} {j}")
                    text = s.files()[f"/pifio/jobs/{s.name}/{j}.fio"]
                    text = text if isinstance(text, str) else Path(text).read_text()
                    (sdir / f"{j}.fio").write_text(text)
                    hjobs = []
                    for g in servers.guests:
                        hj = sdir / f"{j}.{g.index}.fio"
                        hj.write_text(_expand(text, s, g))
                        hjobs.append(hj)
                    argv = client_argv(fio, servers, hjobs)
                    with open(sdir / f"{j}.json", "wb") as out, open(sdir / f"{j}.log", "wb") as err:
                        try:
                            rc = subprocess.run(argv, stdout=out, stderr=err, stdin=subprocess.DEVNULL,
                                                timeout=per_job * 3 + 60).returncode
                        except subprocess.TimeoutExpired:
                            rc = 124
                    (sdir / f"{j}.rc").write_text(f"{rc}\n")
                    (sdir / f"{j}.cmd").write_text(" ".join(argv) + "\n")
                    if rc:
                        status = 1
                    prog.done("" if rc == 0 else f"rc {rc}")
    except PifioError as e:
        print(f"pifio run: {e}", file=sys.stderr)
        status = 1
    finally:
        prog.close()
        meta.finish(m)
        meta.write(rdir, m)

    print(hosts_summary(rdir, scs))
    return Outcome(status, [rdir])


def _expand(text: str, s, g: Guest) -> str:
    """The scenario's ${PIFIO_*} variables for guest g, substituted on the host
    (the device path is the guest's own: names are not stable across boots)."""
    dev = g.devices.get(s.nsid, {}).get("char", f"/dev/ng0n{s.nsid}")
    bs, md = fioopts.io_size(s.fmt)
    env = {"PIFIO_DEV": dev, "PIFIO_FORMAT": s.fmt.canonical(), "PIFIO_BS": str(bs), "PIFIO_MD": str(md),
           "PIFIO_PI_CHK": fioopts.pi_chk(s.fmt) or "NONE", "PIFIO_ENGINE": initramfs.GUEST_ENGINE}
    for k_, v in env.items():
        text = text.replace("${" + k_ + "}", v)
    return text
