"""A real MCP server, built with the MCP Python SDK, for the probe tests: read-only and destructive tools.

It refuses to start without SHOP_API_KEY in its environment, so a probe that lists its tools
proves the key reached it (through `breaker exec` once secured).
"""

from __future__ import annotations

import os
import sys

from mcp.server.mcpserver import MCPServer
from mcp.types import ToolAnnotations

if not os.environ.get("SHOP_API_KEY", "").startswith("sk_test_"):
    sys.stderr.write("shop-tools: SHOP_API_KEY is not set\n")
    sys.exit(3)

server = MCPServer("shop-tools")


@server.tool(annotations=ToolAnnotations(readOnlyHint=True))
def list_invoices() -> str:
    """The open invoices."""
    return "INV-1, INV-2"


@server.tool(annotations=ToolAnnotations(readOnlyHint=False, destructiveHint=True, openWorldHint=False))
def delete_invoice(invoice_id: str) -> str:
    """Delete an invoice."""
    return f"deleted {invoice_id}"


@server.tool(annotations=ToolAnnotations(readOnlyHint=False, openWorldHint=True))
def email_customer(customer: str, text: str) -> str:
    """Email a customer."""
    return "sent"


@server.tool()
def draft_reply(text: str) -> str:
    """A draft, not sent."""
    return "drafted"


@server.tool()
def frobnicate() -> str:
    """Nobody knows."""
    return "?"


if __name__ == "__main__":
    server.run()
