"""Credit-bureau enrichment and its cache (``bureau_cache``)."""
