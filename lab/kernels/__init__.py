"""Lab kernels: the registry of Debian cloud kernels and kernel paths
(registry), patch series (series), patched and plain builds from Debian's
linux-source (build). The registry's API is this package's:
lab.kernels.resolve / DEFAULT / names / Kernel."""
from .registry import DEFAULT, Kernel, bzimage_release, ensure_all, fetch, is_fetched, names, resolve

__all__ = ["DEFAULT", "Kernel", "bzimage_release", "ensure_all", "fetch", "is_fetched", "names",
           "resolve"]
