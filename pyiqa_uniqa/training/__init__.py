"""Training through pyiqa's own pipeline, with the traps that bite our models fixed."""
