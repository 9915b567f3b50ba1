"""Tests of the HTTP service (service/)."""
