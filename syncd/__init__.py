"""The daemon side of flytt: delivery to Altinn 3 (issue #6) and, later, the sync jobs.

Delivery modules: `delivery` (`flytt migrate`), `discovery` (element state from the
eligibility view), `leases` (SKIP LOCKED row leases), `marts` (reading the `a3` marts),
`payloads` (request bodies and the crash guard), `a3_client`, `resource_registry`,
`maskinporten`, `retry`; `synthetic` and `benchmark` serve tests and measurements only.
"""
