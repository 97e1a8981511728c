"""The sandbox Altinn 2 database: a deterministic, realistic generator in the source
contract's shape (issue #3)."""
