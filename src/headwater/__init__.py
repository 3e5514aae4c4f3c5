"""Headwater: an asset-centric data orchestrator."""
