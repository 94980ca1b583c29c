"""The loopback provider sandbox: same paths, headers, status codes and bodies as the real APIs."""
