"""The alerts tests use the store suite's databases (SQLite, and PostgreSQL where the store suite has it)."""

from tests.store.conftest import database

__all__ = ["database"]
