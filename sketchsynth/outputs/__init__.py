"""What a selection is written as: selection.csv and matched/ (results), plots, the sketch video, and the
real-frame video (frames/)."""
