"""Reward models: scoring (prompt, response) pairs and filtering by category statistics."""
