"""fleet-rag's test helpers (sample corpora, the servers its tests start), a package of their
own: fleet-rag's tests and its benchmark (benchmarks/rag_bench.py) import them; the fleet-rag
wheel does not carry them."""
