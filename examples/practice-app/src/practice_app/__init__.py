"""An example product service built only on backbone-client (docs/integrating.md)."""
