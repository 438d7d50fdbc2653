"""The sensor-data component: a historian and concentrator for measurement nodes (XEP-0323/0326)."""
