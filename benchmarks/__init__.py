"""facebox.benchmarks."""
