"""The commands over many runs: ``compare``, ``report``, ``calibrate``, ``optimize``,
``sensitivity``, ``robustness`` and ``effects`` (each ``python -m experiments.<name>``), and the
Optuna study they share (``study``).

``runner`` is imported first: a command's process forks the workers that run, so it must start
no helper threads, which ``runner`` sees to before NumPy and pyarrow load.
"""

import runner  # noqa: F401  (first: no helper threads)
