"""Collection: Reddit -> items -> scores -> the store, on a schedule, off the event loop.

What the rest of the service uses of it is named here; the modules behind it are its own.
"""

from .scheduler import CollectionAlreadyRunning, CollectionService, cycle_factory
from .trending import WINDOWS, Window, trending_key
from .trending import empty as empty_result

__all__ = [
    "WINDOWS",
    "CollectionAlreadyRunning",
    "CollectionService",
    "Window",
    "cycle_factory",
    "empty_result",
    "trending_key",
]
