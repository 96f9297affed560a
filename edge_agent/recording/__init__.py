"""Footage: the camera's own stream kept as signed segments beside the data path (issue 24)."""
