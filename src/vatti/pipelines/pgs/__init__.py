"""The polygenic score calculator (the ``pgs`` pipeline and ``vatti pgs``).

Importing any of its modules first sets polars' allocator to hand freed pages back at once
(jemalloc ``dirty_decay_ms:0,muzzy_decay_ms:0``). Polars' own default, applied when it loads and
the variable is unset, keeps freed pages resident for about a second, which on a large run adds
hundreds of MB of already-freed memory to the peak. A value set in the environment wins.
"""

import os

#: jemalloc settings read once, when polars loads.
ALLOCATOR_CONF = "dirty_decay_ms:0,muzzy_decay_ms:0"
os.environ.setdefault("_RJEM_MALLOC_CONF", ALLOCATOR_CONF)
