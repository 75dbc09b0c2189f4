"""Live synthesis: speech arriving in chunks drives the face as it is spoken (:mod:`.engine`)."""
