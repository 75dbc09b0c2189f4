"""What the selection aims at, per output frame: a normalized face (face.py), a mouth predicted from speech
(speech/), phones from text (text/)."""
