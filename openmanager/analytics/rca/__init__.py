"""Root-cause analysis: rank candidate (server, metric) causes of an incident, with evidence.

`rank_causes(queries, start_ms, end_ms, topology=...)` is the entry point; `Cause` carries
the score, the reasons and the `CauseEvidence` (series, window, size of change, PromQL).
"""

from openmanager.analytics.rca.observe import Observation, RangeQueries, Window, observe
from openmanager.analytics.rca.rank import Cause, CauseEvidence, largest_change, rank, rank_causes
from openmanager.analytics.rca.signals import SIGNALS, Signal
from openmanager.analytics.rca.topology import Topology

__all__ = [
    "SIGNALS",
    "Cause",
    "CauseEvidence",
    "Observation",
    "RangeQueries",
    "Signal",
    "Topology",
    "Window",
    "largest_change",
    "observe",
    "rank",
    "rank_causes",
]
