"""Loading a project: ``megaphone.yaml`` and the queue files, read safely
(``files``, ``yamldoc``) into domain values (``loader``), the credentials of
its accounts, and text edits that keep the rest of a file as it was."""
