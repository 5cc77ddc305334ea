"""swapwatch instrumentation: gen_ai spans with surface, tenant, prompt size and cost."""
