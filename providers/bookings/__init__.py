"""Bookings: slots and capacity, the booking state machine, deadlines and lateness."""
