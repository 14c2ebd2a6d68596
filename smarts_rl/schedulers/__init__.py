"""The `scheduler` config group: how Ray Tune runs and schedules trials."""
