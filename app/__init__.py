"""The per-frame loop that wires sources, kernels, session engine, screens and storage."""
