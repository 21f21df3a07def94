"""GenDojo's benchmarks: training throughput of every answer, and of a plain reference loop beside it.

Not part of the test run; see benchmarks/README.md.
"""
