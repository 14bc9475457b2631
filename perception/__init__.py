"""facebox.perception."""
