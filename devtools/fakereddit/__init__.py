"""A local fake Reddit API for tests, demos and load tests (real PRAW talks to it).

A development tool, not part of the product: installed by ``make install``
(``pip install -e ./devtools``). Standard library only. Modules by job:

* ``server``: the HTTP server, request routing and the ``/_fake`` control endpoints
  (``FakeReddit``);
* ``rendering``: Reddit JSON (things, Listings, error bodies);
* ``dataset`` / ``model``: the data set served, its listing order and comment trees;
* ``recordings``: replay of recorded PRAW cassettes;
* ``generated``: deterministic synthetic data, and churn like a live site;
* ``faults``: errors, 429s, slow answers, bad JSON and resets to inject.
"""

from .faults import Fault
from .recordings import Interaction
from .server import FakeReddit, RequestRecord

__all__ = ["FakeReddit", "Fault", "Interaction", "RequestRecord"]
