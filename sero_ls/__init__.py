"""sero-ls: per-folder container/host runtime resolution and a container-aware LSP proxy."""

__version__ = "0.1.0"
