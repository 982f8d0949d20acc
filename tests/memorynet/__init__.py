"""A network of the tests' own, in one folder: its rules and its client.
Registered by one line (``REGISTRY["memory"] = "tests.memorynet"``)."""
