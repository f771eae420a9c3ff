"""Compositions of mwaa_platform constructs into the stacks app.py deploys."""
