"""The ``megaphone`` command line (click): one module per area, registered
on one group in ``main``."""

from megaphone.cli.main import main

__all__ = ["main"]
