"""From melodies to a prepared corpus: encodings, vocabularies, form context, batches."""
