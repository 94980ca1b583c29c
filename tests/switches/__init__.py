"""Tests of the switches: ladder, rotation, panic, resume after a kill, exec (issue 4)."""
