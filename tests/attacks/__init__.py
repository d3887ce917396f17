"""Hostile submissions: one per way of beating a grader, each with what it must not earn."""
