"""Mistral (La Plateforme) as an upstream provider: its chat translator pair and its errors."""
