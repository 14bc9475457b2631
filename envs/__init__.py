"""facebox environments. numpy, Gymnasium and OpenCV only: never torch (agents and perception own it)."""
