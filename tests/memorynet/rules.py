from tests.fakenet import RULES

__all__ = ["RULES"]
