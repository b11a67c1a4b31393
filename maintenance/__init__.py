"""Maintenance of the repository itself (generated documentation), not run on the fleet."""
