"""Scenarios: finding and building scenario folders, and sets of them to train on."""
