"""The stage protocol, the registries third-party parts join, and Pipeline.run (batch and streaming)."""
