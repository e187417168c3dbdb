"""The Prometheus scrape endpoint."""
