"""What the project's Python shares: the repository's places, the wiring's values, the release's
layout. tools/ (production operations), lab/, benchmarks/ and the tests import it; it imports
none of them, except the release contract that tools/host_apply.py (a self-contained file run on
bare hosts) defines."""
