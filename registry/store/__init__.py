"""The maven2 operations every use case shares (one module for now: :mod:`registry.store.cache`)."""

from registry.store.cache import *  # noqa: F403
from registry.store.cache import __all__  # noqa: F401
