//! Placeholder: RAPL through powercap (being written).
