"""Reddit sentiment collector: Reddit -> collector -> analyzer -> store -> API."""

__version__ = "0.1.0"
