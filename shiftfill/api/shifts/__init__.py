"""The shifts resource, with its fanout, cancel, notifications and events."""
