"""``python -m registry``."""

from registry.cli import console

console()
