"""Discovery: the MCP servers and keys already on this machine, found by reading files only.

:mod:`clients` is the table of MCP clients, :mod:`document` reads a file as its client does,
:mod:`keys` finds keys inside values, :mod:`scan` walks the machine.
"""

from connectors.discovery.scan import FoundKey, FoundServer, Machine, Problem, ScanResult, Wiring, scan

__all__ = ["FoundKey", "FoundServer", "Machine", "Problem", "ScanResult", "Wiring", "scan"]
