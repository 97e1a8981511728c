"""Sandbox Maskinporten: token endpoint replica (`app`), keys (`keys`), token checks (`tokens`)."""
