"""Helpers shared by the test suites (real podman containers, the Apple CLI stand-in)."""
