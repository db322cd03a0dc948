"""edahub's extensions to JupyterHub, loaded by hub/jupyterhub_config.py."""

# The hub's own database, in the hub-data volume (compose.yaml).
HUB_DB_URL = "sqlite:////srv/jupyterhub/jupyterhub.sqlite"
