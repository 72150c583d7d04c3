"""The first schema: created whole from the models, so there is nothing to alter."""


def up(migrator) -> None:
    """Leave the schema as it is: version 1 is what create_tables builds."""
