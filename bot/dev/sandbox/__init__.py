"""Embedded sandbox CRM: a real HTTP server speaking Tanmarket's signed open API over seed data.

It is the CRM when none is configured, the CRM of the test suite and of the playground. Its fault knobs
(latency, hangs, 5xx, error codes, malformed or oversized bodies) reach every failure path without mocks.
"""

from bot.dev.sandbox.app import API_PATHS, Fault, SandboxApp, SandboxState, SandboxStats
from bot.dev.sandbox.server import SandboxServer, run

__all__ = ["API_PATHS", "Fault", "SandboxApp", "SandboxServer", "SandboxState", "SandboxStats", "run"]
