"""A provider simulator driven by real measurements, and the swap benchmark's scenarios."""
