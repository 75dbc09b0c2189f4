"""The frame database: build from recordings, open and verify, manifest, frame table, FAISS indexes, the
recordings' sound."""
