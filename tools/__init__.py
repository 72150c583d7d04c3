"""Safety tools (安全工器具): loans by QR label, the tool gate of a step, expiry warnings and overdue chases."""
