"""Judging music: statistics, form, copying and the held-out evaluation."""
