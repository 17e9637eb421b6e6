"""What lab/ and analysis/ both build on, below both: the run schema
(runschema) and the progress line (progress). Standard library only."""
