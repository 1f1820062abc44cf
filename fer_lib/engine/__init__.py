"""Train loop, devices, seeding, checkpoints, schedules and multi-process (DDP) support."""
