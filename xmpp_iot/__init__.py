"""xmpp-iot: the open XMPP Internet-of-Things suite for smart-grid M2M platforms.

Shared protocol code lives here once: one slixmpp plugin per IoT XEP, the EFI and
measurement payloads, the development-server harness and the high-level Device and
Application APIs that firmware and applications import.
"""

__version__ = "0.1.0"
