"""The ./pifio subcommands: argv parsing, then one call into the layers below (lab/README.md)."""
