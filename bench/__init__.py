"""Agora's benchmark suite: `agora bench --help` (or `python -m bench`, `make bench`)."""
