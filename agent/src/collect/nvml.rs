//! Placeholder: NVIDIA GPUs through NVML, loaded at run time (being written).
