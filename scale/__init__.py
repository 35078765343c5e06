"""The distributed run (issue 6): PostgreSQL, a real Airflow 3 stack with the LocalExecutor, the emulator."""
