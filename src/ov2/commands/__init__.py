"""Subcommands of the ``ov2`` CLI, one module each (see ``ov2.cli``)."""
