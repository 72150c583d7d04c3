"""A park deployment (园区): several enterprises on one deployment, each in a database of its own."""
