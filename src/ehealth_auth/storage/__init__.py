"""SQLAlchemy 2 tables, the stores that implement the protocol's ports, and Alembic migrations."""
