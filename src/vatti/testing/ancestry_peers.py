"""The PGS Catalog Calculator's ancestry tools, each in its own cached side environment
(:mod:`vatti.testing.side_envs`), for the tests that compare :mod:`vatti.pipelines.pgs.ancestry`
with them.

* ``pgscatalog-calc`` 0.3.1: ``pgscatalog-ancestry-adjust`` (it pins numpy 1.26, pandas 2.2);
* ``fraposa-pgsc`` 1.0.2: FRAPOSA (it needs numpy < 2 and pandas < 2).
"""

from __future__ import annotations

import subprocess
from pathlib import Path

from vatti.testing.services import missing
from vatti.testing.side_envs import ensure_side_env

PGSCATALOG_CALC = ("pgscatalog-calc", ["pgscatalog-calc==0.3.1"])
FRAPOSA = ("fraposa-pgsc", ["fraposa-pgsc==1.0.2", "numpy<2", "pandas<2"])


def peer_bin(peer: tuple[str, list[str]]) -> Path:
    """The ``bin`` directory of the peer's environment (built on first use, ~2-5 min), or
    skip/fail (CI) when it cannot be built."""
    name, requirements = peer
    try:
        return ensure_side_env(name, requirements, timeout_s=900)
    except (subprocess.CalledProcessError, subprocess.TimeoutExpired, OSError) as exc:
        missing(name, f"its side environment could not be built ({exc})")
