"""Checking a project: every post against the rules of the networks it
goes to (``validate``), media by content (``media``), on several cores when
the project is big (``batch``)."""
