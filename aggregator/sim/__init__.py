"""Simulated venues on 127.0.0.1, for the offline demo and the tests."""

from .server import Faults, VenueSim

__all__ = ["Faults", "VenueSim"]
