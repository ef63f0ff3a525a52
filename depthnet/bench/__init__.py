"""Benchmarks behind `depthnet-bench`: network and runtime speed, profiling, the convolution reference."""
