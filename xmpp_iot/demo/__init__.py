"""The demo neighbourhood: one command brings up server, components, simulated devices and apps.

`xmpp-iot demo` (see :mod:`xmpp_iot.demo.cli`) reads a TOML neighbourhood (:mod:`.config`),
starts a throwaway XMPP server and the components (:mod:`.orchestrator`), a fleet of simulated
field devices tied together by a feeder model (:mod:`.grid`, :mod:`.fleet`, :mod:`.devices`) and
the state-estimation and demand-response apps from ``examples/``.
"""
