"""`bot release`: versioned releases of the student model (docs/release.md)."""
