"""Experiment runners over many runs of the simulation."""
