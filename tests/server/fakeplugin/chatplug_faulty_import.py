"""A provider module that raises ``SystemExit`` when imported (provider id ``exits``)."""

raise SystemExit("chatplug_faulty_import refuses to be imported")
