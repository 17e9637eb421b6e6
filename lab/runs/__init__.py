"""A run from plan to record: the run plan (plan), the one meta.json writer (meta), guest CPU per I/O files (cpu), the summary tables (summary)."""
