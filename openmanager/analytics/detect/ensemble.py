"""Ensemble: member detectors combined into one calibrated 0-1 score that flags novelty, not repeats."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from openmanager.analytics.detect.base import BoolArray, Detector, FloatArray
from openmanager.analytics.detect.config import DetectorConfig
from openmanager.errors import InvalidInput

_DEFAULT_MEMBERS: tuple[tuple[str, dict[str, Any]], ...] = (
    ("seasonal", {"window": 1000, "full_period": False}),
    ("iqr", {"window": 1000}),
)
_SERVER_MEMBERS: tuple[tuple[str, dict[str, Any]], ...] = (
    # reset_after 60: a fault far off the profile for 12 samples (a disk filling) is not taken
    # for a new regime and scored 0 while re-learned; the ensemble's peaks absorb lasting change
    ("seasonal", {"window": 1000, "recurring": True, "reset_after": 60}),
    ("iqr", {"window": 1000}),
    # a CPU pinned at 100 % moves little above a busy level but stops moving at all
    ("saturation", {}),
)


@dataclass(frozen=True)
class EnsembleConfig(DetectorConfig):
    """Members (name, config), how their strengths combine, and the novelty memory.

    A member's strength is its z-like deviation. The ensemble reports how far the combined
    strength exceeds the largest strengths of the past, floored at ``gate``: the geometric mean
    of the ratios to a short-memory peak (``short_memory`` samples, decaying) and a long one
    (``memory``). A value is anomalous when it is unlike anything seen lately and for long, so
    a regime that persists stops alarming and one threshold means the same on every series.
    ``persist``: the combined strength is the weakest of the last ``persist`` samples (one odd
    sample is not an anomaly). ``absorb_below``: strengths whose ratio already reaches it (a
    flagged anomaly) do not raise the peaks, so a repeat of a fault is flagged again (0: all do).
    ``direction`` (up/down/both) is handed to members that take one; "" keeps theirs.
    ``log``: members see log1p(x) (for rates of traffic, whose noise and changes are relative).
    ``rise``: share of the gap by which a peak climbs toward a larger, unflagged strength per
    sample (1: at once). Below 1, a fault whose strength ramps in over a few samples outruns
    its own calibration instead of teaching the ensemble to ignore it.
    ``calibrate``: "combined" compares the combined strength with its own past peaks; "member"
    compares each member's strength with that member's past peaks and reports the largest
    ratio (``combine`` is then unused), so a member that is often loud (a short trailing
    window) does not dull a quiet one, and each is flagged when it is unlike its own past.
    """

    members: tuple[tuple[str, dict[str, Any]], ...] = field(default=_DEFAULT_MEMBERS)
    combine: str = "max"
    memory: int = 10000
    short_memory: int = 300
    gate: float = 6.0
    warmup: int = 32
    direction: str = ""
    persist: int = 1
    absorb_below: float = 0.0
    log: bool = False
    rise: float = 1.0
    calibrate: str = "combined"

    def validate(self) -> None:
        """Reject out-of-range values."""
        super().validate()
        if not self.members:
            raise InvalidInput("ensemble needs at least one member")
        if self.combine not in ("max", "mean", "min"):
            raise InvalidInput(f"combine must be max, mean or min, got {self.combine!r}")
        if self.memory < 0 or self.short_memory < 0 or self.gate <= 0 or self.persist < 1:
            raise InvalidInput("need memory, short_memory >= 0 (0 = off), gate > 0, persist >= 1")
        if not 0.0 < self.rise <= 1.0:
            raise InvalidInput(f"rise must be in (0, 1], got {self.rise}")
        if self.calibrate not in ("combined", "member"):
            raise InvalidInput(f"calibrate must be combined or member, got {self.calibrate!r}")
        if self.direction not in ("", "both", "up", "down"):
            raise InvalidInput(f"direction must be both, up or down, got {self.direction!r}")


class Ensemble(Detector):
    """Scores 0-1: r/(1+r), r = combined strength over its past peaks (geometric mean of two)."""

    name = "ensemble"
    config_class = EnsembleConfig
    config: EnsembleConfig

    def _init_state(self) -> None:
        from openmanager.analytics.detect.registry import create

        self.children = [create(n, c, self.n_series) for n, c in self._member_configs()]
        per = (len(self.children),) if self.config.calibrate == "member" else ()
        self._zeros("peak", *per)
        self._zeros("short_peak", *per)
        self._zeros("recent", *per, max(self.config.persist - 1, 0))
        self.agree: list[BoolArray] = []
        self.strengths: list[FloatArray] = []

    def _update(self, x: FloatArray, t: FloatArray, ok: BoolArray) -> FloatArray:
        cfg = self.config
        if cfg.log:  # traffic-like series: multiplicative changes become additive
            x = np.log1p(np.maximum(x, 0.0))
        xm = np.where(ok, x, np.nan)  # members must see missing rows as missing, not as 0
        cols = [child._raw_step(xm, t) for child in self.children]
        self.strengths = cols
        # one column per calibrated strength: the combined one, or each member's
        if cfg.calibrate == "member":
            comb = np.stack(cols, axis=1)
        else:
            comb = _combine(cols, cfg.combine)[:, None]
        n, k = comb.shape
        okk = np.broadcast_to(ok[:, None], (n, k))
        st = self.state
        # persistence: the weakest of the last ``persist`` strengths, so one odd sample is not enough
        recent = st["recent"].reshape(n, k, -1)
        held = np.minimum(comb, recent.min(axis=2)) if recent.shape[2] else comb
        if recent.shape[2]:
            shifted = np.concatenate([recent[:, :, 1:], comb[:, :, None]], axis=2)
            st["recent"] = np.where(okk[:, :, None], shifted, recent).reshape(st["recent"].shape)
        peak, short = st["peak"].reshape(n, k), st["short_peak"].reshape(n, k)
        ratio = held * held / (np.maximum(peak, cfg.gate) * np.maximum(short, cfg.gate))
        rk: FloatArray = np.sqrt(ratio)
        # with absorb_below, strengths already flagged (ratio >= absorb_below) do not raise the
        # peaks: a fault must not teach the ensemble to ignore the next one like it
        # (they are absorbed slowly, over short_memory samples, so a lasting new regime still
        # becomes normal)
        flagged = (rk >= cfg.absorb_below) if cfg.absorb_below > 0 else np.zeros_like(okk)
        slow = 1.0 / max(cfg.short_memory, 1)
        for key, memory in (("peak", cfg.memory), ("short_peak", cfg.short_memory)):
            old = st[key].reshape(n, k)
            learned = _decayed_peak(old, held, memory, okk & ~flagged, cfg.rise)
            new = np.where(okk & flagged, np.maximum(old, old + slow * (held - old)), learned)
            st[key] = new.reshape(st[key].shape)
        self.agree = [col >= cfg.gate for col in cols]
        # evidence comes from the member that saw the strongest deviation (the lead on ties)
        top = np.argmax(np.stack(cols), axis=0)
        self.expected = np.choose(top, [c.expected for c in self.children])
        self.band = np.choose(top, [c.band for c in self.children])
        r: FloatArray = rk.max(axis=1)
        return r

    def _member_configs(self) -> list[tuple[str, dict[str, Any]]]:
        """Members' (name, config); the ensemble's direction applies to members that take one."""
        from openmanager.analytics.detect.registry import get

        out = []
        for name, mcfg in self.config.members:
            conf = dict(mcfg)
            fields = {f.name for f in dataclasses.fields(get(str(name)).config_class)}
            if self.config.direction and "direction" in fields:
                conf.setdefault("direction", self.config.direction)
            out.append((str(name), conf))
        return out

    def _score(self, raw: FloatArray) -> FloatArray:
        """Calibrated: 0.5 when the strength equals its past peaks (or the gate)."""
        r = np.maximum(raw, 0.0)
        return r / (1.0 + r)


@dataclass(frozen=True)
class ServerEnsembleConfig(EnsembleConfig):
    """The ensemble tuned for server metrics: a deviation must hold for two samples, flagged
    strengths barely move the calibration (a fault seen before is flagged again), peaks climb
    slowly (a fault that ramps in is not learned as normal on its way up), and the
    seasonal member waits for a whole day before it compares with "the same time yesterday" and
    expects a large deviation its slot showed on the previous days (a daily log rotation); a
    noisy series that stops moving at the edge of its range (saturation) is a deviation too."""

    members: tuple[tuple[str, dict[str, Any]], ...] = field(default=_SERVER_MEMBERS)
    persist: int = 2
    absorb_below: float = 1.2
    rise: float = 0.1


class ServerEnsemble(Ensemble):
    """Default detector of the anomaly service and the simulator benchmark (fewer, firmer alarms).

    The plain ``ensemble`` keeps persist 1 / absorb_below 0: on NAB, whose anomalies are often
    single points and lasting regime changes, those two settings cost most of the score.
    """

    name = "server_ensemble"
    config_class = ServerEnsembleConfig
    config: ServerEnsembleConfig


def _decayed_peak(
    peak: FloatArray, x: FloatArray, memory: int, ok: BoolArray, rise: float = 1.0
) -> FloatArray:
    """Running maximum of x forgetting over ``memory`` samples (0: no memory, the peak stays 0),
    climbing ``rise`` of the way toward a larger x per sample."""
    if memory == 0:
        return peak
    decayed = peak * (1.0 - 1.0 / memory)
    return np.where(ok & (x > decayed), decayed + rise * (x - decayed), decayed)


def _combine(cols: list[FloatArray], how: str) -> FloatArray:
    """Members' strengths as one: the strongest (max), their mean, or the weakest (min: all agree)."""
    stack = np.stack(cols)
    if how == "max":
        out: FloatArray = stack.max(axis=0)
    elif how == "min":
        out = stack.min(axis=0)
    else:
        out = stack.mean(axis=0)
    return out
