"""Publishing: what happens to each post now (``decide``, pure), sending it
exactly once (``publisher``), the publishing commands without the command
line (``runs``), and telling the team (``notify``)."""
