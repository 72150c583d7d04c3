"""Web doors: the Flask blueprints for platform callbacks, board pages, the sensor webhook and downloads."""
