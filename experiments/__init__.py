"""Experiment runners over many runs of the simulation.

Runs execute in parallel worker processes forked from the command's process, so that process
starts no helper threads (one BLAS thread, no Arrow allocator thread): more BLAS threads would only
fight over the cores, and forking a threaded process is unsafe. Set before NumPy and pyarrow load.
"""

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("JE_ARROW_MALLOC_CONF", "background_thread:false")
