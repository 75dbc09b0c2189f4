"""Where input keypoints come from: recordings found on disk, read in chunks, or tracked from video.

``recordings`` finds recordings and holds the :class:`Recording` / :class:`Track`
types, ``tracker`` turns a video into a track, ``readers`` opens recordings for
chunked reading (tracking videos through ``tracker``), and ``load`` reads them
whole. Imports flow that way only: io (file formats) -> sources -> the rest.
"""
