"""Where token state lives: Airflow Variables, and the lock that serialises token acquisition."""
