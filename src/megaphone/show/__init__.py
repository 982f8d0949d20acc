"""Showing posts: what a reader will see (``views``), cards, listings,
calendars and Markdown (``render``), and reports for people, programs and
CI (``output``)."""
