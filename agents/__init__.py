"""facebox.agents."""
