"""PropOps: property-maintenance operations for UK letting and property-management companies."""

__version__ = "0.1.0"
