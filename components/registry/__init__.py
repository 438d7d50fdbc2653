"""The Thing registry (XEP-0347): service rules, storage, XMPP protocol and the process."""
