"""The real-frame video modes: one module per --frames mode, and the helpers they share."""
