"""Recording: the ledger and its migrations (``ledger``), its read-only
view on every backend (``view``), claims as leases (``lease``) and the
project's publishing lock (``lock``)."""
