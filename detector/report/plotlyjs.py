"""plotly.js, packed to be embedded in a report that must open without a network.

The library is the one the ``plotly`` Python package ships (``plotly.min.js``, about 4.8 MB).
Embedded as is it would dominate every report, so it is gzipped and base64-encoded (about
1.9 MB) and the page unpacks it with the browser's ``DecompressionStream`` (every current
browser has it) before drawing. Packing takes a fraction of a second, once per process.

>>> packed = packed_plotlyjs()
>>> import base64, gzip
>>> gzip.decompress(base64.b64decode(packed)).startswith(b"/**")
True
>>> plotly_version() >= "2"
True
"""

from __future__ import annotations

import base64
import gzip
import re
from functools import lru_cache
from importlib import resources


@lru_cache(maxsize=1)
def _source() -> bytes:
    return resources.files("plotly").joinpath("package_data/plotly.min.js").read_bytes()


@lru_cache(maxsize=1)
def packed_plotlyjs() -> str:
    """plotly.min.js, gzipped (deterministically: no timestamp) and base64-encoded."""
    return base64.b64encode(gzip.compress(_source(), compresslevel=9, mtime=0)).decode("ascii")


@lru_cache(maxsize=1)
def plotly_version() -> str:
    """The version of the embedded plotly.js (from its banner), for the report's footer."""
    found = re.search(rb"plotly\.js v([0-9][0-9A-Za-z.\-]*)", _source()[:2000])
    return found.group(1).decode("ascii") if found else "?"
