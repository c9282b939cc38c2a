"""Running many scenarios: the experiment schema (``config``), its runs (``plan``), where they
execute (``executors``) and the results folder they are stored in (``store``); ``plausible``
reads a calibration's plausible sets for an experiment to run at. Nothing here analyses, draws
or reports (``analysis`` reads the store; the commands are ``experiments``).

Runs execute in parallel worker processes forked from the command's process, so that process
starts no helper threads (one BLAS thread, no Arrow allocator thread): more BLAS threads would only
fight over the cores, and forking a threaded process is unsafe. Set here, so before NumPy and
pyarrow load when this package is imported first (as ``experiments/__init__`` does).
"""

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("JE_ARROW_MALLOC_CONF", "background_thread:false")
