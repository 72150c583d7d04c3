"""Exports and imports: workbooks in, reports out."""
