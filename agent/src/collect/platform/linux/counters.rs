//! Placeholder: system-wide counters for the sampler (being written).
