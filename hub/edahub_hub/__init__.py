"""edahub's extensions to JupyterHub, loaded by hub/jupyterhub_config.py."""
