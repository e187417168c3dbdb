"""Storage and the outside world: repositories, notifier, send pool, scheduler."""
