"""Making music: sampling token ids, seeds and primers, the copy guard, writing files."""
