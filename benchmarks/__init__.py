"""Benchmarks of flytt's stages against the sandbox (README "Benchmarks"): not part of the
product's wheel, since they drive the sandbox replicas and generate data.

* `python -m benchmarks.load --size N`: `flytt load` against PostgreSQL `COPY` of the same rows;
* `python -m benchmarks.migrate --elements N --concurrency C`: delivery to the A3 replica.
"""
