"""Anthropic's Messages API as an upstream provider: out of the internal model and back."""
