"""The rules of a shift fill, in plain Python: no web framework, scheduler or threads."""
