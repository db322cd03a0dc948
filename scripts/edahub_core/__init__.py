"""Names and rules that edahub's hub and its operator tools share, each defined once.

Imported by the hub (its image holds this package and hub/edahub_hub only), by the
operator scripts (scripts/edahub), by backup and by the tests. Standard library only.

- ``settings``: every setting's schema, validation and the rules between settings;
- ``names``: users' container, volume and database names, the users' container label;
- ``errors``: ``UserError``, the "what went wrong, how to fix it" error.
"""
