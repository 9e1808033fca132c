"""The built-in fleet simulator: realistic server metrics, fault cascades and their ground truth."""

from openmanager.simulate.faults import Affected, FaultRecord, GroundTruth
from openmanager.simulate.fleet import (
    DEFAULT_FLEET,
    ENVIRONMENTS,
    ROLES,
    Fleet,
    Server,
    build_fleet,
    fleet_from_dicts,
)
from openmanager.simulate.scenarios import SCENARIOS, Scenario
from openmanager.simulate.simulator import Frame, Simulator
from openmanager.simulate.snapshot import FleetSnapshot, ServerSnapshot

__all__ = [
    "DEFAULT_FLEET",
    "ENVIRONMENTS",
    "ROLES",
    "SCENARIOS",
    "Affected",
    "FaultRecord",
    "Fleet",
    "FleetSnapshot",
    "Frame",
    "GroundTruth",
    "Scenario",
    "Server",
    "ServerSnapshot",
    "Simulator",
    "build_fleet",
    "fleet_from_dicts",
]
