"""Pure data shared by every subsystem. No IO here."""
