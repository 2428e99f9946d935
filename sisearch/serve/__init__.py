"""`sisearch serve`: an HTTP API and a Sinhala search page over the same `Index` the CLI uses.

Needs the `serve` extra (FastAPI, uvicorn, Jinja2); nothing here is imported by the CLI
until `sisearch serve` runs.
"""
