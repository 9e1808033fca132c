"""What the engine needs from the on-disk block store (`blockstore.BlockStore` implements it).

Declared as a Protocol so the engine can be tested over any block backend and so the two
halves of the TSDB only meet at this narrow surface.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Protocol

from openmanager.samples import Float64Array, Int64Array, Labels, SeriesMeta
from openmanager.tsdb.matchers import Matcher
from openmanager.tsdb.storage import Series, TierStats

if TYPE_CHECKING:
    from openmanager.tsdb.blockstore import ImportOutcome
    from openmanager.tsdb.downsample import RollupSeries
    from openmanager.tsdb.writerpool import WriterPool

TIERS = ("raw", "1m", "5m", "1h")
"""Resolution tiers, finest first."""


class BlockBackend(Protocol):
    """Immutable blocks of raw and downsampled samples, with compaction and retention."""

    def add_block(
        self,
        series: Iterable[tuple[Labels, Int64Array, Float64Array]],
        metadata: Mapping[str, SeriesMeta],
        *,
        span_ms: int = 0,
        pool: WriterPool | None = None,
    ) -> object:
        """Persist one raw block atomically; each series' samples sorted by time. `span_ms` is
        the aligned time the block may span; with `pool`, it is written in the pool's worker."""
        ...

    def import_raw(
        self,
        series: Mapping[Labels, tuple[Int64Array, Float64Array]],
        metadata: Mapping[str, SeriesMeta],
        span_ms: int,
    ) -> ImportOutcome:
        """Write sorted, deduplicated series as durable raw blocks of aligned span_ms windows,
        merging any overlap with stored blocks at once."""
        ...

    def select(self, matchers: Sequence[Matcher], start_ms: int, end_ms: int) -> list[Series]:
        """Raw samples of matching series, merged across blocks."""
        ...

    def select_rollup(
        self, matchers: Sequence[Matcher], start_ms: int, end_ms: int, resolution_ms: int
    ) -> list[RollupSeries]:
        """Downsampled windows (min, max, sum, count, last) whose end lies in the range."""
        ...

    def best_resolution(self, start_ms: int, end_ms: int, step_ms: int) -> int:
        """Coarsest rollup resolution <= step that fully covers the range; 0 for raw."""
        ...

    def series(self, matchers: Sequence[Matcher], start_ms: int, end_ms: int) -> list[Labels]:
        """Label sets of matching series with samples in the range."""
        ...

    def label_names(
        self,
        matchers: Sequence[Matcher] = (),
        start_ms: int | None = None,
        end_ms: int | None = None,
    ) -> list[str]:
        """Sorted label names."""
        ...

    def label_values(
        self,
        name: str,
        matchers: Sequence[Matcher] = (),
        start_ms: int | None = None,
        end_ms: int | None = None,
    ) -> list[str]:
        """Sorted values of one label."""
        ...

    def metadata(self, metric: str | None = None) -> dict[str, SeriesMeta]:
        """Metadata per metric family."""
        ...

    def delete(self, matchers: Sequence[Matcher], start_ms: int, end_ms: int) -> int:
        """Delete matching samples in the range; returns series touched."""
        ...

    def maintain(self, now_ms: int | None = None) -> object:
        """Compaction, downsampling and retention."""
        ...

    def tier_stats(self) -> list[TierStats]:
        """Size of each tier."""
        ...

    def max_time(self) -> int | None:
        """Newest timestamp in any raw block."""
        ...

    def close(self) -> None:
        """Release files."""
        ...
