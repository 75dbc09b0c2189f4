"""Readers and writers: OpenPose JSON, landmark arrays, recordings folders."""
