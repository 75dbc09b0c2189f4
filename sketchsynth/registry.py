"""Named, replaceable parts: built-in ones by ``module:attribute``, third-party ones by entry point.

A registry is found by name the way pytest finds plugins: the built-in parts are listed as strings
(imported only when asked for, so ``sketchsynth --help`` stays fast), and any package can add its
own in the registry's entry-point group::

    # a third-party package's pyproject.toml
    [project.entry-points."sketchsynth.features"]
    my-features = "mypkg.features:MyFeatures"
"""

from __future__ import annotations

import importlib

from .errors import ParameterError


class Registry:
    """Parts of one kind by name.

    Parameters
    ----------
    group : str
        Entry-point group third-party parts register in (``sketchsynth.stages``, ``sketchsynth.features``...).
    what : str
        What the parts are, for messages ("stage", "speech feature extractor"...).
    builtin : dict
        ``{name: "module:attribute"}`` of the built-in parts.
    """

    def __init__(self, group: str, what: str, builtin: dict):
        self.group = group
        self.what = what
        self.builtin = dict(builtin)

    def __repr__(self):
        return f"Registry({self.group!r}, {len(self.builtin)} built in)"

    def entry_points(self) -> dict:
        """``{name: EntryPoint}`` of the group, as installed now."""
        from importlib.metadata import entry_points

        return {ep.name: ep for ep in entry_points(group=self.group)}

    def available(self) -> list[str]:
        """Every name :meth:`get` can load."""
        return sorted(set(self.builtin) | set(self.entry_points()))

    def get(self, name: str):
        """The object registered under ``name``: built in, else from the entry-point group.

        Raises
        ------
        ParameterError
            No such part, or it fails to import (the message says which).
        """
        if name in self.builtin:
            return load(self.builtin[name])
        eps = self.entry_points()
        if name not in eps:
            raise ParameterError(f"no {self.what} named {name!r} (available: {', '.join(self.available())}; "
                                 f"third-party ones register in the entry-point group '{self.group}')")
        try:
            return eps[name].load()
        except Exception as e:  # a third party's import error, reported as one line
            raise ParameterError(f"{self.what} {name!r} ({eps[name].value}) fails to load: "
                                 f"{type(e).__name__}: {e}") from None


def load(target: str):
    """The object at ``"module:attribute.path"``."""
    mod, _, attr = target.partition(":")
    obj = importlib.import_module(mod)
    for part in attr.split("."):
        obj = getattr(obj, part)
    return obj
