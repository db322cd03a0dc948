"""Tests on the Bitbucket-login stack (HTTPS, the fake Bitbucket); see conftest.py."""
