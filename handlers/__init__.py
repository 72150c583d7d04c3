"""The doors: where input arrives, grouped by kind (web routes, the chat, the command line, the demo)."""
