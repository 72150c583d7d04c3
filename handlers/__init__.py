"""Turn input (CLI today, chat events next) into engine commands."""
