"""Contractor certifications: types, documents and their files, expiry status and reminders."""
