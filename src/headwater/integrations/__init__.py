"""Integrations: other tools' projects turned into Headwater definitions (``dbt``)."""
