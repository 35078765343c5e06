"""The ``sf360`` terminal command: status, setup, reset, test and delete of an ``sf360`` connection."""
