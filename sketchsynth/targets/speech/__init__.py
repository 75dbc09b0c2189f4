"""Speech-driven synthesis: audio features, manifold projection and audio -> mouth regressors.

- :mod:`.features`: LSP's log-mel front end and per-video-frame context windows with look-ahead;
- :mod:`.lle`: LLE projection onto the speaker's own features;
- :mod:`.regress`: ridge and kNN regressors to the normalized mouth and jaw;
- :mod:`.neural`: an optional MLP (extra ``torch``);
- :mod:`.metrics`: opening, width, lag, jumps.

Audio decoding is :func:`sketchsynth.io.audio.load_audio`.
"""
