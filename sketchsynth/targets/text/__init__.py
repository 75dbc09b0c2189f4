"""Text drives the face: TTS and forced alignment, phone labels, the phone target."""
