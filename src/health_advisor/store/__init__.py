"""Storage: SQLAlchemy 2 models, sessions, encrypted columns, bulk writes, migrations."""
