"""``sketchsynth serve``: a local web app -- the live face from the browser's microphone, and batch runs of
match and say from an upload or a text. Needs the ``web`` extra (aiohttp)."""
