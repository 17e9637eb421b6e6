"""QEMU guests: a kernel, one NVMe controller with namespaces of chosen
formats, a script, its results back (lab/README.md "Guest API").

    boot       plan -> prepare -> run -> harvest: boot_and_run()
    qemu       QEMU config -> argv (data), guest clocks, the kernel command line
    runner     the Runner interface; QemuRunner runs QEMU and follows its console
    console    the console protocol (PIFIO-… markers) and its one parser
    initramfs  newc archives: base tools, modules, the run's script and files; init.sh is /init
    namespace  Namespace: format, size, backing file, corrupting blocks between boots
    results    GuestResult, the results tar stream, namespaces.tsv
"""
from .boot import GUESTS, BootPlan, boot_and_run, plan
from .namespace import Namespace
from .qemu import BASE_CMDLINE, QEMU, clock_args, qemu_available
from .results import GuestResult

__all__ = ["BASE_CMDLINE", "GUESTS", "QEMU", "BootPlan", "GuestResult", "Namespace", "boot_and_run",
           "clock_args", "plan", "qemu_available"]
