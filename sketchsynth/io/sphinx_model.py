"""Read the acoustic model that ships inside the pocketsphinx wheel (en-us, "PTM": phonetically tied mixtures).

Only the files a context-independent phone scorer needs, read with numpy (the formats are pocketsphinx's own,
from its C sources ``bin_mdef.c``, ``ms_gauden.c`` and ``ptm_mgau.c``):

- ``mdef`` (binary, magic ``BMDF``): the base phones' names and the 3 emitting senones of each base phone.
- ``means`` / ``variances`` (s3 format): per base phone, per feature stream, 128 diagonal Gaussians.
- ``sendump``: the senones' mixture weights, stored as ``uint8 = -log_1.0001(w) >> 10``.

pocketsphinx itself is only used to find the files: nothing is downloaded, nothing of its decoder runs.
"""

from __future__ import annotations

import os
import struct
from dataclasses import dataclass

import numpy as np

from ..errors import DependencyError, require

EXTRA = "speech"
"""The pip extra that brings pocketsphinx (and so these files)."""
LOG_BASE = np.log(1.0001)
"""pocketsphinx's integer log base: a stored weight ``k`` means ``w = 1.0001 ** -(k << 10)``."""


@dataclass
class SphinxModel:
    """A PTM acoustic model's base phones as arrays.

    Attributes
    ----------
    names : list of str
        The base phones (ARPAbet, plus ``SIL``, ``+NSN+``, ``+SPN+``), n_phones of them.
    means, variances : list of np.ndarray, one per feature stream, each (n_phones, n_gaussians, dims), float32
    weights : np.ndarray, shape (n_streams, n_phones, n_gaussians, n_states), float32
        Mixture weights of each base phone's emitting senones (linear, not log).
    """

    names: list
    means: list
    variances: list
    weights: np.ndarray


def model_dir() -> str:
    """The en-us model folder inside the installed pocketsphinx package."""
    ps = require("pocketsphinx", EXTRA, "closing the lips at b, p and m (a speech target's default, live's too; "
                 "--stage speech-target:closure_weight=0, or live --closure-weight 0, goes without)")
    return os.path.join(os.path.dirname(ps.__file__), "model", "en-us", "en-us")


def read_model(path: str | None = None) -> SphinxModel:
    """The base phones of the model in ``path`` (default: pocketsphinx's bundled en-us)."""
    path = path or model_dir()
    try:
        names, ci_senones = read_mdef(os.path.join(path, "mdef"))
        means = read_s3gau(os.path.join(path, "means"))
        variances = read_s3gau(os.path.join(path, "variances"))
        mixw = read_sendump(os.path.join(path, "sendump"))
    except (OSError, ValueError, struct.error) as e:
        raise DependencyError(f"cannot read pocketsphinx's acoustic model ({e}); reinstall pocketsphinx", path) from e
    if len(means[0]) != len(names):
        raise DependencyError(f"{len(means[0])} codebooks for {len(names)} base phones, not the PTM model "
                              "pocketsphinx ships; reinstall pocketsphinx", path)
    w = np.exp(-mixw.astype(np.float64) * 1024 * LOG_BASE)            # (n_streams, n_gaussians, n_senones)
    weights = np.stack([np.stack([w[f][:, ci_senones[p]] for p in range(len(names))]) for f in range(len(w))])
    return SphinxModel(names, means, variances, weights.astype(np.float32))


def read_mdef(path: str):
    """(base phone names, (n_phones, n_states) int64 senone ids of each base phone) of a binary ``mdef``."""
    b = open(path, "rb").read()
    if b[:4] != b"BMDF":
        raise ValueError(f"{path}: not a binary mdef")
    o = 12 + struct.unpack("<i", b[8:12])[0]
    n_ci, n_phone, n_emit = struct.unpack("<3i", b[o:o + 12])
    n_cd_tree = struct.unpack("<i", b[o + 32:o + 36])[0]
    o += 40
    start, names = o, []
    for _ in range(n_ci):
        end = b.index(b"\0", o)
        names.append(b[o:end].decode())
        o = end + 1
    o = start + (((o - start) + 3) & ~3) + 8 * n_cd_tree           # names padded to 4 bytes, then the CD tree
    phones = np.frombuffer(b, np.int32, 3 * n_phone, o).reshape(n_phone, 3)
    o += 12 * n_phone
    size = struct.unpack("<i", b[o:o + 4])[0]
    sseq = np.frombuffer(b, np.uint16, size, o + 4).astype(np.int64).reshape(-1, n_emit)
    return names, np.stack([sseq[phones[i, 0]] for i in range(n_ci)])


def read_s3gau(path: str) -> list:
    """Per feature stream, an (n_codebooks, n_gaussians, dims) float32 array of an s3 ``means``/``variances``."""
    b = open(path, "rb").read()
    if b[:3] != b"s3\n":
        raise ValueError(f"{path}: not an s3 file")
    o = b.index(b"endhdr\n") + len("endhdr\n")
    if struct.unpack("<I", b[o:o + 4])[0] != 0x11223344:
        raise ValueError(f"{path}: byte order not supported")
    n_mgau, n_feat, n_dens = struct.unpack("<3i", b[o + 4:o + 16])
    veclen = np.frombuffer(b, np.int32, n_feat, o + 16)
    o += 16 + 4 * n_feat
    n = struct.unpack("<i", b[o:o + 4])[0]
    buf = np.frombuffer(b, np.float32, n, o + 4)
    per, k = [[None] * n_feat for _ in range(n_mgau)], 0             # stored [codebook][stream][gaussian][dim]
    for i in range(n_mgau):
        for j in range(n_feat):
            per[i][j] = buf[k:k + n_dens * veclen[j]].reshape(n_dens, veclen[j])
            k += n_dens * veclen[j]
    return [np.stack([per[i][j] for i in range(n_mgau)]) for j in range(n_feat)]


def read_sendump(path: str) -> np.ndarray:
    """(n_streams, n_gaussians, n_senones) uint8 stored mixture weights of a ``sendump``."""
    with open(path, "rb") as f:
        while True:                                                   # length-prefixed header strings, then 0
            n = struct.unpack("<i", f.read(4))[0]
            if n == 0:
                break
            text = f.read(n).rstrip(b"\0").split()
            if text[:1] == [b"cluster_count"] and text[1:2] != [b"0"]:
                raise ValueError(f"{path}: clustered (compressed) weights are not supported")
        r, c = struct.unpack("<2i", f.read(8))
        rest = np.frombuffer(f.read(), np.uint8)
    if len(rest) % (r * c):
        raise ValueError(f"{path}: {len(rest)} weights, not a multiple of {r} x {c}")
    return rest.reshape(-1, r, c)
