"""Persistent state: models, migrations and the domain layer every writer goes through."""
