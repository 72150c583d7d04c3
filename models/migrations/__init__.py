"""Numbered schema migrations: mNNNN_what.py, each with up(migrator) for an existing database."""
