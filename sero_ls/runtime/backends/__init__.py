"""Container backends (apple, docker, podman) behind one small interface."""

from sero_ls.runtime.backends.base import Backend, SystemProbe, make_backend

__all__ = ["Backend", "SystemProbe", "make_backend"]
