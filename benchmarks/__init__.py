"""Benchmark harness: ``run.py`` (sweeps), ``report.py`` (figures, tables), ``peers``."""
