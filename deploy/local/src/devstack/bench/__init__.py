"""`make bench` (`python -m devstack.bench`): the figures of DESIGN §9, measured on a platform of its own."""
