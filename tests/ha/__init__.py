"""Test rig for a real Home Assistant (see README.md)."""
