"""The local lab: systemd test hosts (podman) behind a real EC2 API (moto server).

`python -m lab up|status|down|image` — see README.md, section "The lab".
"""
