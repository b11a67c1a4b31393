"""Load tests of the fleet through its load balancer, built on Locust (see run.py)."""
