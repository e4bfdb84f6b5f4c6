"""Reading music: find files in a source, parse them, extract the melody, cache the result."""
