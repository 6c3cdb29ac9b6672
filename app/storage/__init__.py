"""Storage: the only package that speaks to a database (see base.Store)."""
from .base import HIDDEN_FIELDS, Duplicate, FieldOf, Store, Writes, public

__all__ = ["HIDDEN_FIELDS", "Duplicate", "FieldOf", "Store", "Writes", "public"]
