"""Providers: organisations, staff, qualification documents, listings, the catalogue
(and, from the bookings issue on, bookings)."""
