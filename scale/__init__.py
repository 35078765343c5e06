"""The distributed runs: PostgreSQL, a real Airflow 3 stack with the LocalExecutor, the emulator."""
