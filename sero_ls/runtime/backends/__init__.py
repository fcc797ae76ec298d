"""Container backends (apple, docker, podman) behind one small interface."""

from sero_ls.runtime.backends.base import Backend, SystemProbe, backend_for, make_backend

__all__ = ["Backend", "SystemProbe", "backend_for", "make_backend"]
