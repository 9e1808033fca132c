"""Fast, benchmark-only loader of the peers' `fleet.prom` into per-series NumPy arrays.

Not the real exposition parser: it assumes the generator's `name{labels} value ts_ms` lines.
The parse (~1 min) is cached next to the data as an .npz so later runs load in seconds.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import numpy.typing as npt

SeriesData = dict[str, tuple[npt.NDArray[np.int64], npt.NDArray[np.float64]]]


def _parse(path: Path) -> SeriesData:
    """Parse every sample line; group by the series text left of the value."""
    ts_lists: dict[str, list[int]] = {}
    v_lists: dict[str, list[float]] = {}
    with path.open("r", buffering=1 << 22) as fh:
        for line in fh:
            if line[0] == "#":
                continue
            key, value, ts = line.rsplit(" ", 2)
            tl = ts_lists.get(key)
            if tl is None:
                tl = ts_lists[key] = []
                v_lists[key] = []
            tl.append(int(ts))
            v_lists[key].append(float(value))
    out: SeriesData = {}
    for key, tl in ts_lists.items():
        t = np.array(tl, dtype=np.int64)
        v = np.array(v_lists[key], dtype=np.float64)
        order = np.argsort(t, kind="stable")
        out[key] = (t[order], v[order])
    return out


def load_fleet(path: Path, cache: Path | None = None) -> SeriesData:
    """Series text -> (timestamps ms, values), from the .npz cache when it is newer than `path`."""
    cache = cache or path.with_suffix(".codec-cache.npz")
    if cache.exists() and cache.stat().st_mtime >= path.stat().st_mtime:
        with np.load(cache, allow_pickle=False) as z:
            keys = [str(k) for k in z["keys"]]
            offsets = z["offsets"]
            ts, vs = z["ts"], z["vs"]
        return {
            k: (ts[offsets[i] : offsets[i + 1]], vs[offsets[i] : offsets[i + 1]])
            for i, k in enumerate(keys)
        }
    data = _parse(path)
    keys = list(data)
    lengths = np.array([len(data[k][0]) for k in keys], dtype=np.int64)
    offsets = np.concatenate([[0], np.cumsum(lengths)])
    np.savez(
        cache,
        keys=np.array(keys),
        offsets=offsets,
        ts=np.concatenate([data[k][0] for k in keys]),
        vs=np.concatenate([data[k][1] for k in keys]),
    )
    return data
