"""The demo's well-known accounts: who owns the devices and who runs the apps."""

DSO_USER = "admin"  # the DSO's owner account; a pub/sub admin on the dev server (it creates nodes)
STATE_ESTIMATION_USER = "state-estimation"
DEMAND_RESPONSE_USER = "demand-response"
