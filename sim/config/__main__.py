"""``python -m sim.config > docs/parameters.md``: print the parameter reference."""

from sim.config.reference import parameter_markdown

print(parameter_markdown(), end="")
