"""Models fitted on a database and kept in its folder (the speech model): found by name, fitted at build.

The database layer does not know what they are; each is registered here by name, as a ``module:function``
string loaded when a build runs (or in the entry-point group ``sketchsynth.attachments``). A fitter is
``fit(db, folder) -> None``: it may write its files into ``folder`` (the database being built, not yet in
place) and list them in its manifest; it does nothing when the database lacks what it needs.
"""

from __future__ import annotations

from ..registry import Registry


ATTACHMENTS = Registry("sketchsynth.attachments", "database attachment", {
    "speech-model": "sketchsynth.targets.speech.model_store:fit_at_build",
})
ATTACHED_FILES = ("speech_model.npz",)
"""Files an attachment may keep in a database folder (checked by the attachment when it loads them)."""


def fit_attachments(db, folder) -> None:
    """Run every registered attachment's fitter on a database just written to ``folder``."""
    for name in ATTACHMENTS.available():
        ATTACHMENTS.get(name)(db, folder)
