"""UK postcode geography: parsing, offline and HTTP geocoding, isochrone providers."""
