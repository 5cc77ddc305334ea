"""Span attributes that swapwatch's own instrumentation writes and ingest reads.

There is no standard attribute for a product surface, a tenant or the prompt's size, so the
swapwatch span processor writes these; any service may set them too. Import the names from
here (instrumentation and ingest must agree on them).

>>> SURFACE, TENANT, PROMPT_CHARS, COST_USD
('swapwatch.surface', 'swapwatch.tenant', 'swapwatch.prompt.chars', 'swapwatch.cost.usd')
"""

from __future__ import annotations

#: Product surface the call serves (e.g. ``"checkout-assistant"``): a string.
SURFACE = "swapwatch.surface"
#: Tenant / customer on whose behalf the call is made: a string.
TENANT = "swapwatch.tenant"
#: Size of the prompt in characters (all input messages' text): an int.
PROMPT_CHARS = "swapwatch.prompt.chars"
#: Price of the call in USD as computed at the source: a double.
COST_USD = "swapwatch.cost.usd"

__all__ = ["COST_USD", "PROMPT_CHARS", "SURFACE", "TENANT"]
