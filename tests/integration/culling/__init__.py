"""Tests on a stack whose idle culler runs with short timeouts; see conftest.py."""
